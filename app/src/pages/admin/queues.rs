//! Inbound queues (`/admin/queues`): the numbers customers call and the campaigns whose agents
//! take those calls; admins add, edit and delete them, supervisors read the list.
//!
//! The campaigns are ticked in order: the first ticked owns a call nobody has taken yet (its
//! leads are where a new caller's lead goes).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::admin::queues::{DeleteQueue, SaveQueue, list_queues};
use crate::model::inbound::{Overflow, Queue, QueueForm, QueueSettings};
use crate::pages::admin::{can_edit, field_message};
use crate::pages::layout::Guarded;
use crate::pages::widgets::ErrorBanner;

#[component]
pub fn QueuesPage() -> impl IntoView {
    view! {
        <Title text="Inbound queues" />
        <Guarded>
            <Queues />
        </Guarded>
    }
}

/// The form's fields, as signals (Edit fills them from a queue).
#[derive(Clone, Copy)]
struct Fields {
    id: RwSignal<Option<i64>>,
    name: RwSignal<String>,
    numbers: RwSignal<String>,
    campaigns: RwSignal<Vec<i64>>,
    wait: RwSignal<String>,
    music: RwSignal<String>,
    closed: RwSignal<String>,
    overflow: RwSignal<String>,
    overflow_queue: RwSignal<i64>,
    greeting: RwSignal<String>,
    prompts: RwSignal<String>,
}

impl Fields {
    fn new() -> Fields {
        Fields {
            id: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            numbers: RwSignal::new(String::new()),
            campaigns: RwSignal::new(Vec::new()),
            wait: RwSignal::new("120".into()),
            music: RwSignal::new(String::new()),
            closed: RwSignal::new(String::new()),
            overflow: RwSignal::new("close".into()),
            overflow_queue: RwSignal::new(0),
            greeting: RwSignal::new(String::new()),
            prompts: RwSignal::new(String::new()),
        }
    }

    fn fill(&self, id: Option<i64>, f: QueueForm) {
        self.id.set(id);
        self.name.set(f.name);
        self.numbers.set(f.numbers);
        self.campaigns.set(f.campaigns);
        self.wait.set(f.max_wait_seconds);
        self.music.set(f.music_file);
        self.closed.set(f.closed_file);
        self.overflow.set(if f.overflow.is_empty() { "close".into() } else { f.overflow });
        self.overflow_queue.set(f.overflow_queue);
        self.greeting.set(f.voicemail_greeting);
        self.prompts.set(f.position_prompts);
    }
}

#[component]
fn Queues() -> impl IntoView {
    let save = ServerAction::<SaveQueue>::new();
    let delete = ServerAction::<DeleteQueue>::new();
    let list = crate::pages::json::resource(
        move || (save.version().get(), delete.version().get()),
        |_| list_queues(),
    );
    let fields = Fields::new();
    let edit = can_edit();
    // A saved queue empties the form for the next one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            fields.fill(None, QueueForm { max_wait_seconds: "120".into(), ..QueueForm::default() });
        }
    });
    view! {
        <h1>"Inbound queues"</h1>
        <p class="muted">"Customers who call one of a queue's numbers wait, hearing its music (and their place in line every 30 seconds, when the queue has position prompts), until a ready agent of one of its campaigns takes the call (the agent who has waited longest). Nobody logged in, or nobody free within the longest wait: the caller goes where the queue says — the closed message and the end of the call, a voicemail the agents find on their phone, or another queue."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok((queues, campaigns)) => {
                        let others: Vec<(i64, String)> =
                            queues.iter().map(|q| (q.id.0, q.settings.name.to_string())).collect();
                        view! {
                            <QueueList queues campaigns=campaigns.clone() fields delete edit />
                            <Show when=move || edit.get()>
                                <QueueEditor campaigns=campaigns.clone() queues=others.clone() fields save />
                            </Show>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn QueueList(
    queues: Vec<Queue>,
    campaigns: Vec<(i64, String)>,
    fields: Fields,
    delete: ServerAction<DeleteQueue>,
    edit: Signal<bool>,
) -> impl IntoView {
    if queues.is_empty() {
        return view! { <p class="muted" data-testid="no-queues">"No inbound queues yet: calls to the dialer's numbers are refused."</p> }.into_any();
    }
    let queue_names: Vec<(i64, String)> =
        queues.iter().map(|q| (q.id.0, q.settings.name.to_string())).collect();
    let name_of = move |id: i64| {
        campaigns
            .iter()
            .find(|(c, _)| *c == id)
            .map_or_else(|| format!("#{id}"), |(_, n)| n.clone())
    };
    let rows = queues
        .into_iter()
        .map(|q| {
            let s = &q.settings;
            let numbers = s.numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
            let names = s.campaigns.iter().map(|c| name_of(c.0)).collect::<Vec<_>>().join(", ");
            let (id, form, name) = (q.id.0, s.to_form(), s.name.to_string());
            let overflow = match s.overflow {
                Overflow::Close => s
                    .closed_file
                    .clone()
                    .map_or_else(|| "hang up".into(), |f| format!("closed message {f}")),
                Overflow::Voicemail => "voicemail".to_string(),
                Overflow::Queue(q) => {
                    format!(
                        "queue {}",
                        queue_names
                            .iter()
                            .find(|(i, _)| *i == q.0)
                            .map_or("?", |(_, n)| n.as_str())
                    )
                }
            };
            view! {
                <tr data-queue=name.clone()>
                    <td>{name.clone()}</td>
                    <td>{numbers}</td>
                    <td>{names}</td>
                    <td>{format!("{} s", s.max_wait_seconds)}</td>
                    <td data-testid="queue-overflow">{overflow}</td>
                    <Show when=move || edit.get()>
                        <td class="row-form">
                            <button type="button" on:click={
                                let form = form.clone();
                                move |_| fields.fill(Some(id), form.clone())
                            } data-testid="queue-edit">"Edit"</button>
                            <ActionForm action=delete attr:class="inline">
                                <input type="hidden" name="id" value=id />
                                <button type="submit" class="danger">"Delete"</button>
                            </ActionForm>
                        </td>
                    </Show>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" data-testid="queues">
            <thead><tr>
                <th scope="col">"Queue"</th><th scope="col">"Numbers"</th><th scope="col">"Campaigns"</th>
                <th scope="col">"Longest wait"</th><th scope="col">"Nobody takes the call"</th>
                <Show when=move || edit.get()><th scope="col"><span class="sr-only">"Actions"</span></th></Show>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn QueueEditor(
    campaigns: Vec<(i64, String)>,
    queues: Vec<(i64, String)>,
    fields: Fields,
    save: ServerAction<SaveQueue>,
) -> impl IntoView {
    let saved = move || save.value().get();
    let boxes = campaigns
        .into_iter()
        .map(|(id, name)| {
            let ticked = move || fields.campaigns.get().contains(&id);
            let place = move || {
                fields.campaigns.get().iter().position(|c| *c == id).map(|i| match i {
                    0 => " (first: owns new callers)".to_string(),
                    i => format!(" ({})", i + 1),
                })
            };
            view! {
                <label class="check">
                    <input type="checkbox" prop:checked=ticked data-testid="queue-campaign" data-name=name.clone()
                        on:change=move |_| fields.campaigns.update(|c| {
                            match c.iter().position(|x| *x == id) {
                                Some(i) => { c.remove(i); }
                                None => c.push(id),
                            }
                        }) />
                    {name.clone()}{place}
                </label>
            }
        })
        .collect_view();
    let targets = queues
        .into_iter()
        .map(|(id, name)| {
            let chosen = move || fields.overflow_queue.get() == id;
            // A queue does not overflow to itself.
            let own = move || fields.id.get() == Some(id);
            view! { <option value=id.to_string() selected=chosen disabled=own>{name}</option> }
        })
        .collect_view();
    let fields_in_error = [
        "name",
        "numbers",
        "campaigns",
        "max_wait_seconds",
        "music_file",
        "closed_file",
        "overflow",
        "overflow_queue",
        "voicemail_greeting",
        "position_prompts",
    ];
    view! {
        <section class="card">
            <h2>{move || if fields.id.get().is_some() { "Edit the queue" } else { "Add a queue" }}</h2>
            {move || match saved() {
                Some(Ok(_)) => Some(view! { <p class="banner ok" role="status" data-testid="queue-saved">"Saved."</p> }.into_any()),
                Some(Err(error)) if error.field().is_none() => Some(view! { <ErrorBanner error /> }.into_any()),
                _ => None,
            }}
            <ActionForm action=save attr:class="stack" attr:data-testid="queue-form">
                <input type="hidden" name="id" prop:value=move || fields.id.get().map(|i| i.to_string()).unwrap_or_default() />
                <input type="hidden" name="campaigns" prop:value=move || {
                    fields.campaigns.get().iter().map(i64::to_string).collect::<Vec<_>>().join(",")
                } />
                <label>"Name" <input name="name" required=true maxlength="100"
                    prop:value=move || fields.name.get() on:input=move |e| fields.name.set(event_target_value(&e)) /></label>
                <label>"Numbers customers call (one per line, with + and the country code)"
                    <textarea name="numbers" rows="3" required=true
                        prop:value=move || fields.numbers.get() on:input=move |e| fields.numbers.set(event_target_value(&e))></textarea></label>
                <fieldset>
                    <legend>"Campaigns whose agents take the calls (tick in order)"</legend>
                    {boxes}
                </fieldset>
                <label>{format!("Longest wait, seconds ({}–{})", QueueSettings::MIN_WAIT, QueueSettings::MAX_WAIT)}
                    <input name="max_wait_seconds" type="number" min=QueueSettings::MIN_WAIT max=QueueSettings::MAX_WAIT required=true
                        prop:value=move || fields.wait.get() on:input=move |e| fields.wait.set(event_target_value(&e)) /></label>
                <label>"Waiting music (a .wav file on the server; empty: a gentle tone)"
                    <input name="music_file" maxlength="255"
                        prop:value=move || fields.music.get() on:input=move |e| fields.music.set(event_target_value(&e)) /></label>
                <label>"Position prompts (a folder on the server with position-1.wav … position-9.wav and position-more.wav; empty: no announcements)"
                    <input name="position_prompts" maxlength="255"
                        prop:value=move || fields.prompts.get() on:input=move |e| fields.prompts.set(event_target_value(&e)) /></label>
                <label>"When nobody takes the call (nobody logged in, or the longest wait is over)"
                    <select name="overflow" data-testid="queue-overflow-choice"
                        on:change=move |e| fields.overflow.set(event_target_value(&e))>
                        <option value="close" selected=move || fields.overflow.get() == "close">"Closed message, then hang up"</option>
                        <option value="voicemail" selected=move || fields.overflow.get() == "voicemail">"Voicemail"</option>
                        <option value="queue" selected=move || fields.overflow.get() == "queue">"Another queue"</option>
                    </select></label>
                <label>"Closed message (a .wav file on the server; empty: the call just ends)"
                    <input name="closed_file" maxlength="255"
                        prop:value=move || fields.closed.get() on:input=move |e| fields.closed.set(event_target_value(&e)) /></label>
                <label>"Voicemail greeting (a .wav file on the server, ending with the tone)"
                    <input name="voicemail_greeting" maxlength="255" data-testid="queue-greeting"
                        prop:value=move || fields.greeting.get() on:input=move |e| fields.greeting.set(event_target_value(&e)) /></label>
                <label>"Queue callers move to"
                    <select name="overflow_queue" data-testid="queue-overflow-queue"
                        on:change=move |e| fields.overflow_queue.set(event_target_value(&e).parse().unwrap_or(0))>
                        <option value="" selected=move || fields.overflow_queue.get() == 0>"—"</option>
                        {targets}
                    </select></label>
                <div class="row-form">
                    <button type="submit" class="primary">"Save"</button>
                    <Show when=move || fields.id.get().is_some()>
                        <button type="button" on:click=move |_| {
                            fields.fill(None, QueueForm { max_wait_seconds: "120".into(), ..QueueForm::default() })
                        }>"Cancel"</button>
                    </Show>
                </div>
            </ActionForm>
            {move || fields_in_error.into_iter().find_map(|f| field_message(&saved(), f)).map(|m| view! {
                <p class="field-error" role="alert" data-testid="queue-error">{m}</p>
            })}
        </section>
    }
}
