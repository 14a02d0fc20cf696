#!/usr/bin/env bash
# Accuracy of the answering-machine detector (gateway/src/amd): builds a labelled set of
# greetings and prints a confusion matrix (human / machine / silence against the verdicts
# human / machine / unsure) and the mean and longest decision time, for
#   - synthetic greetings generated from seeds in Rust (clean, and with noise at 30, 20 and
#     10 dB SNR), and
#   - spoken ones: 20 people's hellos and 20 machines' greetings said by espeak-ng in several
#     voices, speeds and pitches, each after a short lead-in, band-limited to the telephone
#     band, resampled to 8 kHz mono, passed through G.711 μ-law, half of them with background
#     noise; plus a few silent lines (noise only).
#
#   scripts/amd.sh           the whole set (debug build: the detector is cheap)
#   scripts/amd.sh --smoke   CI: a few greetings of each kind, bounded time
#   scripts/amd.sh --verbose every greeting's verdict (--mistakes: the wrong ones)
#
# A benchmark: it reports numbers and fails only if something breaks.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_rust
ensure_espeak

smoke=
verbose=()
for a in "$@"; do
    case "$a" in
        --smoke) smoke=1 ;;
        --verbose | --mistakes) verbose=("$a") ;;
        *) die "unknown argument $a: scripts/amd.sh [--smoke] [--verbose | --mistakes]" ;;
    esac
done

humans=(
    "Hello?" "Yes, hello" "Hi, who's this?" "Hello, yes?" "Hi." "Yeah?" "Hello, who is it?"
    "Speaking." "Hello!" "Good morning." "Yes?" "Hi there." "Hello, this is Sam."
    "Who's calling?" "Hey." "Hello? Hello?" "Yes, who is this?" "Hi, Mark speaking."
    "Hello, good afternoon." "Uh, hello?"
)
machines=(
    "Hi, you've reached the Johnsons. We can't come to the phone right now, please leave a message after the tone."
    "Hello, this is Sarah. I'm not available at the moment, so leave your name and number and I'll call you back."
    "The person you are calling is not available. Please record your message after the tone. When you have finished, hang up."
    "Thank you for calling Smith and Sons plumbing. Our office is closed. Please leave a message and we will return your call."
    "Hey, it's Mike. Sorry I missed you, leave a message and I'll get back to you as soon as I can."
    "You have reached the voicemail box of five five five, one two three four. Please leave a message."
    "Hi, you've reached Dan and Lisa. We're out right now, but leave us a message and we'll call you back."
    "Welcome to the voice mail service. The subscriber you have dialled is not available. Please leave a message after the beep."
    "Hello, you have reached the office of doctor Brown. Our hours are nine to five, Monday through Friday. Please leave a message."
    "This is Tom. I can't take your call right now. Please leave a detailed message and I will return your call."
    "Hi there, you've reached the Garcia family. Nobody can come to the phone right now, so please leave a message."
    "Your call has been forwarded to an automatic voice message system. The person is not available. At the tone, please record your message."
    "Hello, thank you for calling. We are unable to answer your call at this time. Please leave your name, number and a short message."
    "Hi, this is Jenny's phone. I'm probably out walking the dog, so leave a message and I'll call you later."
    "You've reached the sales department. All of our representatives are busy. Please leave a message and we'll get back to you."
    "Hello. We're not home right now. Please leave your name and telephone number after the beep and we'll call you back."
    "Hi, this is Robert Miller. I'm either on the phone or away from my desk. Leave me a message and I'll return your call."
    "The number you have called cannot take your call at the moment. Please leave a message after the tone."
    "Good afternoon, you have reached the law offices of Parker and Wells. Please leave a message with your name and number."
    "Hey, you got Chris. I'm not around right now, you know what to do. Leave a message after the beep."
)
voices=(en-us en-gb en-us+f3 en-gb-scotland+m3 en-029 en-us+f2 en-gb-x-rp+m1 en-us+m4 en-gb+f4 en-us+f1)
synthetic=25
silences=4
if [ -n "$smoke" ]; then
    humans=("${humans[@]:0:3}")
    machines=("${machines[@]:0:3}")
    synthetic=2
    silences=1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
set_dir="$work/set"
mkdir -p "$set_dir/human" "$set_dir/machine" "$set_dir/silence"

# One greeting: spoken, a lead-in of silence before it, cut or padded to 4.5 s, telephone
# band, 8 kHz mono, phone-line level, μ-law and back; noise added to every other one.
make() {
    local label=$1 i=$2 text=$3
    local voice=${voices[$((i % ${#voices[@]}))]}
    local speed=$((140 + (i * 7) % 45)) pitch=$((30 + (i * 13) % 40))
    local lead gain noise
    lead=$(printf '0.%d' $((1 + (i * 3) % 8)))
    gain=$((3 + (i * 5) % 10))
    local out="$set_dir/$label/$(printf '%02d' "$i").wav"
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$work/raw.wav" "$text"
    sox -q "$work/raw.wav" -r 8000 -c 1 -b 16 "$work/padded.wav" \
        sinc 300-3400 gain -n "-$gain" pad "$lead" 5
    sox -q "$work/padded.wav" "$work/clean.wav" trim 0 4.5
    if [ $((i % 2)) = 1 ]; then
        noise=$(printf '0.%03d' $((3 + (i * 11) % 25)))
        sox -q -n -r 8000 -c 1 -b 16 "$work/noise.wav" synth 4.5 pinknoise vol "$noise"
        sox -q -m "$work/clean.wav" "$work/noise.wav" "$work/mixed.wav"
    else
        cp "$work/clean.wav" "$work/mixed.wav"
    fi
    sox -q "$work/mixed.wav" -e u-law "$work/ulaw.wav"
    sox -q "$work/ulaw.wav" -e signed-integer -b 16 "$out"
}

say "speaking ${#humans[@]} hellos and ${#machines[@]} machine greetings (espeak-ng, sox)"
for i in "${!humans[@]}"; do make human "$i" "${humans[$i]}"; done
for i in "${!machines[@]}"; do make machine "$i" "${machines[$i]}"; done
for i in $(seq 1 "$silences"); do
    noise=$(printf '0.%03d' $((2 + i * 7)))
    sox -q -n -r 8000 -c 1 -b 16 "$set_dir/silence/$i.wav" synth 4.5 pinknoise vol "$noise"
done

say "building the accuracy benchmark"
cargo build -p gateway --example amd-accuracy >&2
"$TARGET/debug/examples/amd-accuracy" --synthetic "$synthetic" --dir "$set_dir" "${verbose[@]}"
