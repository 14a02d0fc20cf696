//! The registrar for agents' SIP phones (RFC 3261 §10.3), sans-IO: it decides the answer to
//! each REGISTER and keeps one binding per account — where the phone is reached — until it
//! expires, is removed by the phone (`Expires: 0`), or its account is removed or changed.
//!
//! Every REGISTER must prove its account's password with digest authentication (RFC 3261
//! §22, through the same [`Verifier`] as trunks' INVITEs: fresh nonces, each used once). An
//! unknown account is challenged like a known one and refused like a wrong password, so the
//! answers never tell which user names exist. Failed proofs are throttled like the web login:
//! after [`MAX_FAILURES`] for one account from one address within [`FAILURE_WINDOW`], that pair
//! is refused without a check for [`BLOCK`].
//!
//! Invariants: an account has at most one binding (a phone registering anew replaces it); a
//! binding's account exists with the password it was proven with; every binding that goes
//! away is reported once ([`Change::Unregistered`]); the throttle table holds at most
//! [`MAX_TRACKED`] pairs; nothing here reads a clock.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use telephony::sip_phone::{SipPhoneAccount, SipRegistration, SipUser};

use crate::sip::auth::{Verdict, Verifier};
use crate::sip::message::{HeaderAccess, NameAddr, Request, Transport};

/// Wrong proofs allowed per account and address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// How far back failures count.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a throttled pair is refused.
pub const BLOCK: Duration = Duration::from_secs(60);
/// Throttle entries held at once (the oldest are dropped past it).
pub const MAX_TRACKED: usize = 10_000;
/// The shortest registration granted (RFC 3261 §10.3 step 7: shorter asks get 423).
pub const MIN_EXPIRES: u32 = 60;
/// The longest registration granted (longer asks are cut to it); also the default.
pub const MAX_EXPIRES: u32 = 3600;

/// What to answer a REGISTER with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub code: u16,
    /// Reason phrase (empty: the status's default).
    pub reason: &'static str,
    /// Header fields to add.
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn status(code: u16, reason: &'static str) -> Self {
        Self { code, reason, headers: Vec::new() }
    }

    fn with(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// What changed, for whoever shows the phones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A phone registered (or refreshed its registration).
    Registered(SipRegistration),
    /// A phone's binding went away.
    Unregistered {
        /// Its account.
        user: SipUser,
        /// Why: "unregistered", "expired", "account removed", "account changed".
        reason: &'static str,
    },
    /// A REGISTER failed to prove its account's password (or came while throttled).
    AuthFailed {
        /// The user name it claimed (as sent, cut to 64 characters).
        user: String,
        /// Where it came from.
        source: SocketAddr,
        /// Why, for the log and the agents page.
        reason: String,
    },
}

struct Binding {
    registration: SipRegistration,
    source: SocketAddr,
    expires_at: Instant,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    blocked_until: Option<Instant>,
}

/// The registrar: accounts, their bindings, the throttle.
pub struct Registrar {
    accounts: HashMap<String, SipPhoneAccount>,
    bindings: HashMap<String, Binding>,
    verifier: Verifier,
    failures: HashMap<(String, IpAddr), Failures>,
    failure_order: VecDeque<(Instant, String, IpAddr)>,
    changes: VecDeque<Change>,
}

impl Registrar {
    /// A registrar with no accounts, challenging in `realm` with nonces fresh for
    /// `nonce_lifetime`.
    pub fn new(realm: &str, nonce_lifetime: Duration) -> Self {
        Self {
            accounts: HashMap::new(),
            bindings: HashMap::new(),
            verifier: Verifier::new(realm, nonce_lifetime),
            failures: HashMap::new(),
            failure_order: VecDeque::new(),
            changes: VecDeque::new(),
        }
    }

    /// Replaces the accounts. A binding whose account is gone, or whose password, transport
    /// or codecs changed, is dropped (the phone must prove the new settings); the bindings
    /// that stay are reported again, so a client that just (re)connected learns them.
    pub fn set_accounts(&mut self, accounts: Vec<SipPhoneAccount>) {
        let new: HashMap<String, SipPhoneAccount> =
            accounts.into_iter().map(|a| (a.user.as_str().to_owned(), a)).collect();
        let mut users: Vec<String> = self.bindings.keys().cloned().collect();
        users.sort();
        for user in users {
            let reason = match (self.accounts.get(&user), new.get(&user)) {
                (_, None) => Some("account removed"),
                (Some(old), Some(now)) if old != now => Some("account changed"),
                _ => None,
            };
            match reason {
                Some(reason) => {
                    if let Some(b) = self.bindings.remove(&user) {
                        let user = b.registration.user;
                        self.changes.push_back(Change::Unregistered { user, reason });
                    }
                }
                None => {
                    if let Some(b) = self.bindings.get(&user) {
                        self.changes.push_back(Change::Registered(b.registration.clone()));
                    }
                }
            }
        }
        self.accounts = new;
    }

    /// The account of a registered phone and where to reach it (its REGISTER's source).
    pub fn binding(&self, user: &SipUser) -> Option<(&SipPhoneAccount, SocketAddr, &str)> {
        let b = self.bindings.get(user.as_str())?;
        let account = self.accounts.get(user.as_str())?;
        Some((account, b.source, b.registration.contact.as_str()))
    }

    /// Phones registered now.
    pub fn registered(&self) -> usize {
        self.bindings.len()
    }

    /// Answers a REGISTER received at `now` from `source` over `transport`; `random` makes
    /// the nonce of a challenge.
    pub fn register(
        &mut self,
        now: Instant,
        request: &Request,
        source: SocketAddr,
        transport: Transport,
        random: u128,
    ) -> Answer {
        self.forget_old_failures(now);
        // RFC 3261 §10.3 step 4: the address of record is the To URI; its user is the account.
        let claimed = user_part(&request.core.to.uri).unwrap_or_default();
        let key = (claimed.chars().take(64).collect::<String>(), source.ip());
        if let Some(f) = self.failures.get(&key).copied() {
            match f.blocked_until {
                Some(until) if now < until => {
                    let wait = until.saturating_duration_since(now).as_secs().max(1);
                    let why = format!("throttled for {wait} s after failed attempts");
                    self.failed(&key.0, source, why);
                    return Answer::status(403, "Too Many Failed Attempts")
                        .with("Retry-After", wait.to_string());
                }
                // A block served, or a window with too few failures over: a fresh start.
                Some(_) => _ = self.failures.remove(&key),
                None if now.saturating_duration_since(f.first) >= FAILURE_WINDOW => {
                    _ = self.failures.remove(&key)
                }
                None => {}
            }
        }
        let account = self.accounts.get(&key.0).cloned();
        // An unknown account is checked against a password nobody can know (a user name
        // cannot be one), so it fails exactly like a wrong password.
        let (user, secret) = match &account {
            Some(a) => (a.user.as_str().to_owned(), a.secret.expose().to_owned()),
            None => (key.0.clone(), String::new()),
        };
        let verdict = self.verifier.check(
            now,
            request.header("Authorization"),
            "REGISTER",
            &request.uri,
            &user,
            &secret,
            random,
        );
        let account = match (verdict, account) {
            (Verdict::Accept, Some(account)) => account,
            (Verdict::Challenge(value), _) => {
                return Answer::status(401, "").with("WWW-Authenticate", value);
            }
            (Verdict::Malformed(why), _) => {
                self.failed(&key.0, source, format!("unreadable credentials: {why}"));
                return Answer::status(400, "Malformed Authorization");
            }
            (verdict @ (Verdict::Refuse(_) | Verdict::Accept), _) => {
                let why = match verdict {
                    Verdict::Refuse(why) if !secret.is_empty() => why,
                    _ => "unknown user name",
                };
                self.count_failure(now, &key);
                self.failed(&key.0, source, format!("refused: {why}"));
                return Answer::status(403, "");
            }
        };
        self.failures.remove(&key);
        if transport != account.transport {
            self.failed(
                &key.0,
                source,
                format!("registered over {transport}, allowed {}", account.transport),
            );
            return Answer::status(403, "Wrong Transport");
        }
        self.bind(now, request, source, transport, account)
    }

    /// Steps 6–8 of RFC 3261 §10.3 for a proven account: remove, query or (re)bind.
    fn bind(
        &mut self,
        now: Instant,
        request: &Request,
        source: SocketAddr,
        transport: Transport,
        account: SipPhoneAccount,
    ) -> Answer {
        let header_expires = request.header("Expires").and_then(|e| e.trim().parse::<u64>().ok());
        let contacts = request.header_values("Contact");
        let name = account.user.as_str().to_owned();
        if contacts.iter().any(|c| c.trim() == "*") {
            if contacts.len() != 1 || header_expires != Some(0) {
                return Answer::status(400, "Wildcard Contact Needs Expires 0");
            }
            self.unbind(&name, "unregistered");
            return Answer::status(200, "");
        }
        let Some(raw) = contacts.first() else {
            // A query: the current binding, if any.
            return self.ok(&name, now);
        };
        let Ok(contact) = NameAddr::parse(raw) else {
            return Answer::status(400, "Malformed Contact");
        };
        let param_expires = contact
            .params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case("expires"))
            .and_then(|p| p.value.as_deref()?.parse::<u64>().ok());
        let asked = param_expires.or(header_expires).unwrap_or(u64::from(MAX_EXPIRES));
        if asked == 0 {
            self.unbind(&name, "unregistered");
            return Answer::status(200, "");
        }
        if asked < u64::from(MIN_EXPIRES) {
            return Answer::status(423, "").with("Min-Expires", MIN_EXPIRES.to_string());
        }
        let granted = asked.min(u64::from(MAX_EXPIRES)) as u32;
        let user_agent = request
            .header("User-Agent")
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(100).collect::<String>());
        let registration = SipRegistration {
            user: account.user,
            contact: contact.uri.clone(),
            source: source.to_string(),
            transport,
            user_agent,
            expires_secs: granted,
        };
        let expires_at = now + Duration::from_secs(u64::from(granted));
        self.changes.push_back(Change::Registered(registration.clone()));
        self.bindings.insert(name.clone(), Binding { registration, source, expires_at });
        self.ok(&name, now)
    }

    /// 200 OK listing the account's binding with its remaining time (RFC 3261 §10.3 step 8).
    fn ok(&self, name: &str, now: Instant) -> Answer {
        let answer = Answer::status(200, "");
        match self.bindings.get(name) {
            Some(b) => {
                let left = b.expires_at.saturating_duration_since(now).as_secs();
                answer.with("Contact", format!("<{}>;expires={left}", b.registration.contact))
            }
            None => answer,
        }
    }

    fn unbind(&mut self, name: &str, reason: &'static str) {
        if let Some(b) = self.bindings.remove(name) {
            self.changes.push_back(Change::Unregistered { user: b.registration.user, reason });
        }
    }

    fn failed(&mut self, user: &str, source: SocketAddr, reason: String) {
        self.changes.push_back(Change::AuthFailed { user: user.to_owned(), source, reason });
    }

    fn count_failure(&mut self, now: Instant, key: &(String, IpAddr)) {
        let entry = self.failures.entry(key.clone()).or_insert(Failures {
            count: 0,
            first: now,
            blocked_until: None,
        });
        if entry.count == 0 {
            self.failure_order.push_back((now, key.0.clone(), key.1));
        }
        entry.count += 1;
        if entry.count >= MAX_FAILURES {
            entry.blocked_until = Some(now + BLOCK);
        }
        while self.failures.len() > MAX_TRACKED {
            let Some((_, user, ip)) = self.failure_order.pop_front() else { break };
            self.failures.remove(&(user, ip));
        }
    }

    /// Drops throttle entries whose window and block are both over.
    fn forget_old_failures(&mut self, now: Instant) {
        while let Some((first, user, ip)) = self.failure_order.front().cloned() {
            if now.saturating_duration_since(first) < FAILURE_WINDOW + BLOCK {
                break;
            }
            self.failure_order.pop_front();
            let key = (user, ip);
            let done = self.failures.get(&key).is_some_and(|f| {
                f.first == first && f.blocked_until.is_none_or(|until| now >= until)
            });
            if done {
                self.failures.remove(&key);
            }
        }
    }

    /// When the next binding expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bindings.values().map(|b| b.expires_at).min()
    }

    /// Removes the bindings that have expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut expired: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, b)| b.expires_at <= now)
            .map(|(n, _)| n.clone())
            .collect();
        expired.sort();
        for name in expired {
            self.unbind(&name, "expired");
        }
    }

    /// The next change to report.
    pub fn poll_change(&mut self) -> Option<Change> {
        self.changes.pop_front()
    }
}

/// `sip:ann@host;x` → `ann`.
fn user_part(uri: &str) -> Option<String> {
    let rest = uri.split_once(':')?.1;
    let (user, _) = rest.split_once('@')?;
    Some(user.split(';').next().unwrap_or(user).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::auth::Challenge;
    use crate::sip::message::{Message, parse};
    use telephony::sip_phone::SipSecret;
    use telephony::{Codec, Transport};

    const PHONE: &str = "127.0.0.1:5070";

    fn account(user: &str, secret: &str) -> SipPhoneAccount {
        SipPhoneAccount::new(
            SipUser::parse(user).unwrap(),
            SipSecret::parse(secret).unwrap(),
            Transport::Udp,
            vec![Codec::Pcmu],
        )
        .unwrap()
    }

    fn registrar() -> Registrar {
        let mut r = Registrar::new("dialer-gateway", Duration::from_secs(30));
        r.set_accounts(vec![account("ann01", "right-pass")]);
        r
    }

    /// A REGISTER from the phone with the given extra header lines.
    fn register(user: &str, cseq: u32, extra: &str) -> Request {
        let raw = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {PHONE};branch=z9hG4bK{cseq}x\r\n\
             From: <sip:{user}@127.0.0.1>;tag=p1\r\n\
             To: <sip:{user}@127.0.0.1>\r\n\
             Call-ID: reg-1\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Max-Forwards: 70\r\n\
             User-Agent: DeskPhone 2\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        );
        let Ok(Message::Request(r)) = parse(raw.as_bytes()) else { panic!("{raw}") };
        r
    }

    fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
        answer.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// Challenged first, then answered with `password`.
    fn try_password(
        r: &mut Registrar,
        now: Instant,
        user: &str,
        password: &str,
        extra: &str,
    ) -> Answer {
        let source: SocketAddr = PHONE.parse().unwrap();
        let first = r.register(now, &register(user, 1, extra), source, Transport::Udp, 7);
        if first.code != 401 {
            return first;
        }
        let challenge = Challenge::parse(header(&first, "WWW-Authenticate").unwrap()).unwrap();
        let auth = challenge.answer(user, password, "REGISTER", "sip:127.0.0.1", "c1", 1);
        let request = register(user, 2, &format!("{extra}Authorization: {auth}\r\n"));
        r.register(now, &request, source, Transport::Udp, 8)
    }

    fn changes(r: &mut Registrar) -> Vec<Change> {
        std::iter::from_fn(|| r.poll_change()).collect()
    }

    const CONTACT: &str = "Contact: <sip:ann01@127.0.0.1:5070>\r\nExpires: 120\r\n";

    #[test]
    fn a_proven_phone_is_bound_until_it_expires() {
        let (mut r, t0) = (registrar(), Instant::now());
        let ok = try_password(&mut r, t0, "ann01", "right-pass", CONTACT);
        assert_eq!(ok.code, 200);
        assert_eq!(header(&ok, "Contact"), Some("<sip:ann01@127.0.0.1:5070>;expires=120"));
        let [Change::Registered(reg)] = &changes(&mut r)[..] else { panic!() };
        assert_eq!(
            (reg.contact.as_str(), reg.source.as_str()),
            ("sip:ann01@127.0.0.1:5070", PHONE)
        );
        assert_eq!((reg.expires_secs, reg.user_agent.as_deref()), (120, Some("DeskPhone 2")));
        let user = SipUser::parse("ann01").unwrap();
        assert_eq!(r.binding(&user).map(|(_, s, _)| s), Some(PHONE.parse().unwrap()));
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(120)));
        r.handle_timeout(t0 + Duration::from_secs(119));
        assert!(changes(&mut r).is_empty());
        r.handle_timeout(t0 + Duration::from_secs(120));
        assert_eq!(changes(&mut r), [Change::Unregistered { user, reason: "expired" }]);
        assert_eq!((r.registered(), r.poll_timeout()), (0, None));
    }

    #[test]
    fn expires_are_bounded_and_zero_unregisters() {
        let (mut r, t0) = (registrar(), Instant::now());
        let brief = "Contact: <sip:ann01@127.0.0.1:5070>;expires=10\r\n";
        let answer = try_password(&mut r, t0, "ann01", "right-pass", brief);
        assert_eq!((answer.code, header(&answer, "Min-Expires")), (423, Some("60")));
        let long = "Contact: <sip:ann01@127.0.0.1:5070>\r\nExpires: 86400\r\n";
        let answer = try_password(&mut r, t0, "ann01", "right-pass", long);
        assert_eq!(header(&answer, "Contact"), Some("<sip:ann01@127.0.0.1:5070>;expires=3600"));
        // A query (no Contact) lists the binding with its time left.
        let later = t0 + Duration::from_secs(600);
        let query = try_password(&mut r, later, "ann01", "right-pass", "");
        assert_eq!(header(&query, "Contact"), Some("<sip:ann01@127.0.0.1:5070>;expires=3000"));
        // A wildcard needs Expires: 0.
        let bad = try_password(&mut r, later, "ann01", "right-pass", "Contact: *\r\n");
        assert_eq!(bad.code, 400);
        changes(&mut r);
        let off =
            try_password(&mut r, later, "ann01", "right-pass", "Contact: *\r\nExpires: 0\r\n");
        assert_eq!(off.code, 200);
        let user = SipUser::parse("ann01").unwrap();
        assert_eq!(changes(&mut r), [Change::Unregistered { user, reason: "unregistered" }]);
    }

    #[test]
    fn wrong_passwords_and_unknown_names_look_alike_and_are_throttled() {
        let (mut r, t0) = (registrar(), Instant::now());
        let unknown = try_password(&mut r, t0, "bob01", "right-pass", CONTACT);
        let wrong = try_password(&mut r, t0, "ann01", "wrong-pass", CONTACT);
        assert_eq!((unknown.code, wrong.code), (403, 403));
        assert_eq!((unknown.reason, wrong.reason), (wrong.reason, ""));
        for _ in 0..4 {
            assert_eq!(try_password(&mut r, t0, "ann01", "wrong-pass", CONTACT).code, 403);
        }
        // The fifth failure blocked the pair: even the right password is refused unchecked.
        let blocked = try_password(&mut r, t0, "ann01", "right-pass", CONTACT);
        assert_eq!((blocked.code, blocked.reason), (403, "Too Many Failed Attempts"));
        assert_eq!(header(&blocked, "Retry-After"), Some("60"));
        let failures: Vec<String> = changes(&mut r)
            .into_iter()
            .filter_map(|c| match c {
                Change::AuthFailed { reason, .. } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(failures.len(), 7, "{failures:?}");
        assert_eq!(failures[0], "refused: unknown user name");
        assert_eq!(failures[1], "refused: wrong password");
        assert!(failures[6].starts_with("throttled"), "{failures:?}");
        assert_eq!(r.registered(), 0);
        // The block served, the right password works and clears the count.
        let after = t0 + BLOCK;
        assert_eq!(try_password(&mut r, after, "ann01", "right-pass", CONTACT).code, 200);
        assert!(r.failures.keys().all(|(user, _)| user == "bob01"), "ann01's count is cleared");
    }

    #[test]
    fn unreadable_credentials_and_wrong_transport_are_refused() {
        let (mut r, t0) = (registrar(), Instant::now());
        let source: SocketAddr = PHONE.parse().unwrap();
        let garbage = register("ann01", 1, "Authorization: Digest username=\"ann01\"\r\n");
        assert_eq!(r.register(t0, &garbage, source, Transport::Udp, 1).code, 400);
        let first = r.register(t0, &register("ann01", 2, CONTACT), source, Transport::Tcp, 2);
        let challenge = Challenge::parse(header(&first, "WWW-Authenticate").unwrap()).unwrap();
        let auth = challenge.answer("ann01", "right-pass", "REGISTER", "sip:127.0.0.1", "c", 1);
        let tcp = register("ann01", 3, &format!("{CONTACT}Authorization: {auth}\r\n"));
        let answer = r.register(t0, &tcp, source, Transport::Tcp, 3);
        assert_eq!((answer.code, answer.reason), (403, "Wrong Transport"));
        assert_eq!(r.registered(), 0);
    }

    #[test]
    fn changed_or_removed_accounts_drop_their_phones_and_the_rest_are_said_again() {
        let (mut r, t0) = (registrar(), Instant::now());
        r.set_accounts(vec![account("ann01", "right-pass"), account("bob01", "bobs-pass")]);
        try_password(&mut r, t0, "ann01", "right-pass", CONTACT);
        let bob = CONTACT.replace("ann01", "bob01");
        try_password(&mut r, t0, "bob01", "bobs-pass", &bob);
        changes(&mut r);
        r.set_accounts(vec![account("ann01", "right-pass"), account("bob01", "new-passw")]);
        let bob_user = SipUser::parse("bob01").unwrap();
        let [Change::Registered(ann), gone] = &changes(&mut r)[..] else { panic!() };
        assert_eq!(ann.user.as_str(), "ann01");
        assert_eq!(gone, &Change::Unregistered { user: bob_user, reason: "account changed" });
        r.set_accounts(vec![]);
        let ann_user = SipUser::parse("ann01").unwrap();
        assert_eq!(
            changes(&mut r),
            [Change::Unregistered { user: ann_user, reason: "account removed" }]
        );
    }
}
