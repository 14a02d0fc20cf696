//! Which pages are for whom.
//!
//! This is the one table both sides read: the server's auth layer (to redirect visitors to the
//! login page and answer 403 before anything renders) and the app's page guard (so client-side
//! navigation shows the same result). Server functions check their own roles as well.

use crate::model::{Role, Viewer};

/// Who may open a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (the login page, the 404 page).
    Public,
    /// Any signed-in user.
    SignedIn,
    /// Signed-in users with one of these roles.
    Roles(&'static [Role]),
}

/// What to do with a request for a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Show the page.
    Allow,
    /// Send the visitor to the login page first.
    Login,
    /// Signed in, but the page is for another role: 403.
    Forbidden,
}

/// The access rule for a page path (query and fragment excluded).
pub fn access_for(path: &str) -> Access {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or("");
    match first {
        "" | "account" => Access::SignedIn,
        "admin" => admin_access(segments.filter(|s| !s.is_empty()).collect()),
        "phone" => Access::Roles(Role::ON_THE_PHONE),
        // Agents chat from the phone; this page is the others' (the live channel is theirs).
        "chat" => Access::Roles(&[Role::Admin, Role::Supervisor]),
        // The login page, and every unknown path (which answers 404 to anyone).
        _ => Access::Public,
    }
}

/// Admin pages: supervisors may watch (the dashboard, the floor and its messages to agents — a
/// supervisor acts on the floor, so they may write to agents too —, the wallboard, the reports and the CSV,
/// the campaign, inbound queue, agent, script, disposition, do-not-call and leadset lists, each campaign's overview,
/// pacing simulator and CRM integration (its settings read only, and the webhook's delivery log), each script, each leadset's overview, each lead's page with its corrections)
/// and see no form that changes them; everything that edits is for admins only (trunks hold
/// credentials: admins only).
fn admin_access(rest: Vec<&str>) -> Access {
    const WATCH: &[Role] = &[Role::Admin, Role::Supervisor];
    let id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match rest.as_slice() {
        []
        | ["floor"]
        | ["broadcasts"]
        | ["wallboard"]
        | ["calls"]
        | ["calls.csv"]
        | ["agent-time"]
        | ["hourly"]
        | ["compliance"]
        | ["compliance.csv"]
        | ["campaigns"]
        | ["queues"]
        | ["agents"]
        | ["scripts"]
        | ["dispositions"]
        | ["dnc"]
        | ["leadsets"] => Access::Roles(WATCH),
        ["campaigns", i]
        | ["leadsets", i]
        | ["leads", i]
        | ["scripts", i]
        | ["campaigns", i, "simulate"]
        | ["campaigns", i, "crm"]
            if id(i) =>
        {
            Access::Roles(WATCH)
        }
        _ => Access::Roles(&[Role::Admin]),
    }
}

/// Applies `access` to `viewer`.
pub fn decide(access: Access, viewer: Option<&Viewer>) -> Decision {
    match (access, viewer) {
        (Access::Public, _) => Decision::Allow,
        (_, None) => Decision::Login,
        (Access::SignedIn, Some(_)) => Decision::Allow,
        (Access::Roles(roles), Some(v)) if roles.contains(&v.role) => Decision::Allow,
        (Access::Roles(_), Some(_)) => Decision::Forbidden,
    }
}

/// The login page URL that returns to `path` afterwards.
pub fn login_url(path: &str) -> String {
    if path == "/" || path.is_empty() {
        "/login".to_string()
    } else {
        format!("/login?next={}", encode_component(path))
    }
}

/// Where to go after logging in: `next` if it is a path on this site, else home. Refusing
/// anything that is not a plain local path keeps the login page from being an open redirect.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/",
    }
}

/// Percent-encodes a URL query component (RFC 3986 unreserved characters and `/` kept).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{UserId, Username};

    fn viewer(role: Role) -> Viewer {
        Viewer::new(UserId(1), Username::parse("u").unwrap(), role, &Default::default())
    }

    #[test]
    fn admin_pages_are_for_admins_only() {
        for p in [
            "/admin/users",
            "/admin/campaigns/new",
            "/admin/campaigns/3/edit",
            "/admin/campaigns/x/simulate",
            "/admin/scripts/new",
            "/admin/trunks",
            "/admin/trunks/1",
            "/admin/users",
        ] {
            let a = access_for(p);
            assert_eq!(decide(a, None), Decision::Login, "{p}");
            assert_eq!(decide(a, Some(&viewer(Role::Agent))), Decision::Forbidden, "{p}");
            assert_eq!(decide(a, Some(&viewer(Role::Supervisor))), Decision::Forbidden, "{p}");
            assert_eq!(decide(a, Some(&viewer(Role::Admin))), Decision::Allow, "{p}");
        }
    }

    #[test]
    fn supervisors_watch_the_floor_reports_and_every_list_but_trunks_and_users() {
        for p in [
            "/admin",
            "/admin/floor",
            "/admin/broadcasts",
            "/admin/wallboard",
            "/admin/calls",
            "/admin/calls.csv",
            "/admin/agent-time",
            "/admin/hourly",
            "/admin/compliance",
            "/admin/compliance.csv",
            "/admin/agents",
            "/admin/leadsets",
            "/admin/scripts",
            "/admin/scripts/4",
            "/admin/dispositions",
            "/admin/dnc",
            "/admin/campaigns/3/simulate",
            "/admin/campaigns/3/crm",
        ] {
            let a = access_for(p);
            assert_eq!(decide(a, Some(&viewer(Role::Supervisor))), Decision::Allow, "{p}");
            assert_eq!(decide(a, Some(&viewer(Role::Admin))), Decision::Allow, "{p}");
            assert_eq!(decide(a, Some(&viewer(Role::Agent))), Decision::Forbidden, "{p}");
        }
    }

    #[test]
    fn supervisors_read_leadsets_but_upload_nothing() {
        let sup = viewer(Role::Supervisor);
        assert_eq!(decide(access_for("/admin/leadsets/12"), Some(&sup)), Decision::Allow);
        assert_eq!(decide(access_for("/admin/leads/7"), Some(&sup)), Decision::Allow);
        assert_eq!(decide(access_for("/admin/leads/x"), Some(&sup)), Decision::Forbidden);
        for p in ["/admin/leadsets/12/upload", "/admin/leadsets/x", "/admin/phonebook"] {
            assert_eq!(decide(access_for(p), Some(&sup)), Decision::Forbidden, "{p}");
        }
        let agent = viewer(Role::Agent);
        assert_eq!(decide(access_for("/admin/leadsets/12"), Some(&agent)), Decision::Forbidden);
        assert_eq!(decide(access_for("/admin/leads/7"), Some(&agent)), Decision::Forbidden);
    }

    #[test]
    fn the_phone_is_for_agents_and_supervisors() {
        let a = access_for("/phone");
        assert_eq!(decide(a, Some(&viewer(Role::Agent))), Decision::Allow);
        assert_eq!(decide(a, Some(&viewer(Role::Supervisor))), Decision::Allow);
        assert_eq!(decide(a, Some(&viewer(Role::Admin))), Decision::Forbidden);
        assert_eq!(decide(a, None), Decision::Login);
    }

    #[test]
    fn the_chat_page_is_for_admins_and_supervisors_agents_chat_on_the_phone() {
        let a = access_for("/chat");
        assert_eq!(decide(a, Some(&viewer(Role::Admin))), Decision::Allow);
        assert_eq!(decide(a, Some(&viewer(Role::Supervisor))), Decision::Allow);
        assert_eq!(decide(a, Some(&viewer(Role::Agent))), Decision::Forbidden);
        assert_eq!(decide(a, None), Decision::Login);
    }

    #[test]
    fn home_and_account_need_a_session() {
        for p in ["/", "", "/account"] {
            assert_eq!(decide(access_for(p), None), Decision::Login, "{p}");
            assert_eq!(decide(access_for(p), Some(&viewer(Role::Agent))), Decision::Allow);
        }
    }

    #[test]
    fn login_and_unknown_pages_are_public() {
        assert_eq!(access_for("/login"), Access::Public);
        assert_eq!(access_for("/no/such/page"), Access::Public);
        assert_eq!(access_for("/administrator"), Access::Public);
    }

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(safe_next(Some("/admin/users")), "/admin/users");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "evil", "/a\nb"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn login_url_round_trips_the_path() {
        assert_eq!(login_url("/"), "/login");
        assert_eq!(login_url("/admin/users"), "/login?next=/admin/users");
        assert_eq!(login_url("/a b?c"), "/login?next=/a%20b%3Fc");
    }
}
