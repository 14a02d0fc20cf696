//! User administration (admins): the list of users, creating one, and per-user role, password
//! and enabled/disabled changes.

use leptos::prelude::*;
use leptos_meta::Title;

use super::layout::Guarded;
use super::widgets::{ErrorBanner, Outcome, format_utc, reset_on_success};
use crate::api::users::{CreateUser, ResetUserPassword, SetUserDisabled, SetUserRole, list_users};
use crate::model::{Role, UserSummary};

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Title text="Users" />
        <Guarded>
            <Users />
        </Guarded>
    }
}

/// The actions a row can take, shared by all rows so one banner reports them.
#[derive(Clone, Copy)]
struct RowActions {
    role: ServerAction<SetUserRole>,
    disabled: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetUserPassword>,
}

#[component]
fn Users() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let rows = RowActions {
        role: ServerAction::new(),
        disabled: ServerAction::new(),
        reset: ServerAction::new(),
    };
    let users = crate::pages::json::resource(
        move || {
            (
                create.version().get(),
                rows.role.version().get(),
                rows.disabled.version().get(),
                rows.reset.version().get(),
            )
        },
        |_| list_users(),
    );
    let create_form = NodeRef::new();
    reset_on_success(create_form, move || create.value().get());
    let created = Signal::derive(move || match create.value().get() {
        Some(Ok(u)) => format!("User {} created as {}.", u.username, u.role.label().to_lowercase()),
        _ => String::new(),
    });

    view! {
        <h1>"Users"</h1>
        <section class="card">
            <h2>"Create a user"</h2>
            <Outcome value=move || create.value().get() success=created />
            <ActionForm action=create node_ref=create_form attr:class="row-form" attr:data-testid="create-user">
                <label>
                    "Username"
                    <input name="username" required=true maxlength="64" autocomplete="off" />
                </label>
                <label>
                    "Role"
                    <select name="role">
                        <option value="agent" selected=true>"Agent"</option>
                        <option value="supervisor">"Supervisor"</option>
                        <option value="admin">"Admin"</option>
                    </select>
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" required=true minlength="8" autocomplete="new-password" />
                </label>
                <button type="submit" class="primary" disabled=move || create.pending().get()>
                    "Create user"
                </button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"All users"</h2>
            <Outcome value=move || rows.role.value().get() success="Role changed." />
            <Outcome value=move || rows.disabled.value().get() success="Account updated." />
            <Outcome value=move || rows.reset.value().get() success="Password reset; the user's sessions ended." />
            <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! { <UserTable list rows /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn UserTable(list: Vec<UserSummary>, rows: RowActions) -> impl IntoView {
    view! {
        <table class="grid" data-testid="users-table">
            <thead>
                <tr>
                    <th>"Username"</th>
                    <th>"Role"</th>
                    <th>"Status"</th>
                    <th>"Created"</th>
                    <th>"Last login"</th>
                    <th>"Reset password"</th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|u| view! { <UserRow user=u rows /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn UserRow(user: UserSummary, rows: RowActions) -> impl IntoView {
    let id = user.id.0;
    let options = Role::ALL
        .iter()
        .map(|r| view! { <option value=r.as_str() selected=*r == user.role>{r.label()}</option> })
        .collect_view();
    let (status, toggle_label, toggle_to) =
        if user.disabled { ("Disabled", "Enable", "false") } else { ("Active", "Disable", "true") };
    view! {
        <tr data-username=user.username.to_string() class:disabled=user.disabled>
            <td class="strong">{user.username.to_string()}</td>
            <td>
                <ActionForm action=rows.role attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <select name="role" aria-label="Role">{options}</select>
                    <button type="submit">"Save"</button>
                </ActionForm>
            </td>
            <td>
                <span class=if user.disabled { "badge off" } else { "badge on" }>{status}</span>
                <ActionForm action=rows.disabled attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="disabled" value=toggle_to />
                    <button type="submit">{toggle_label}</button>
                </ActionForm>
            </td>
            <td>{format_utc(user.created_at)}</td>
            <td>{user.last_login_at.map(format_utc).unwrap_or_else(|| "never".into())}</td>
            <td>
                <ActionForm action=rows.reset attr:class="inline">
                    <input type="hidden" name="id" value=id />
                    <input
                        name="password"
                        type="password"
                        placeholder="New password"
                        aria-label="New password"
                        minlength="8"
                        required=true
                        autocomplete="new-password"
                    />
                    <button type="submit">"Reset"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
