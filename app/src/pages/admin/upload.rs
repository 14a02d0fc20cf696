//! Uploading leads into a leadset (admins): by file (picker or drag-and-drop), by URL (the
//! server fetches it) or by pasted text. Step 1 previews the first rows; step 2 sets the start
//! row, the delimiter and what each column is; step 3 uploads with a progress bar and shows
//! the report (imported, duplicates, rejected rows, a downloadable error CSV).
//!
//! The file streams to `/admin/imports/{job}/data` with `XMLHttpRequest` (for upload progress)
//! while the page polls `/admin/imports/{job}` for import progress. This page needs JavaScript;
//! without it, it says so.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::leadsets::{get_leadset_overview, preview_text, preview_url};
use crate::model::Contact;
use crate::model::leadset::{ColumnTarget, ImportPreview, ImportStatus};
use crate::pages::layout::Guarded;

#[component]
pub fn UploadPage() -> impl IntoView {
    view! {
        <Title text="Upload leads" />
        <Guarded>
            <Upload />
        </Guarded>
    }
}

/// Where the leads come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    File,
    Url,
    Paste,
}

#[cfg(feature = "hydrate")]
type PickedFile = web_sys::File;
#[cfg(not(feature = "hydrate"))]
type PickedFile = ();

/// The page's state, copied into every handler.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy)]
struct State {
    leadset: Signal<i64>,
    source: RwSignal<Source>,
    file: StoredValue<Option<PickedFile>, LocalStorage>,
    file_name: RwSignal<String>,
    url: RwSignal<String>,
    text: RwSignal<String>,
    preview: RwSignal<Option<ImportPreview>>,
    start_row: RwSignal<u32>,
    delimiter: RwSignal<char>,
    columns: RwSignal<Vec<String>>,
    sent: RwSignal<(f64, f64)>,
    status: RwSignal<Option<ImportStatus>>,
    /// Why the preview failed (shown by the Preview button).
    error: RwSignal<Option<String>>,
    /// Why the upload failed (shown by the Upload button).
    upload_error: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
}

#[component]
fn Upload() -> impl IntoView {
    let leadset = super::route_id().into();
    let st = State {
        leadset,
        source: RwSignal::new(Source::File),
        file: StoredValue::new_local(None),
        file_name: RwSignal::new(String::new()),
        url: RwSignal::new(String::new()),
        text: RwSignal::new(String::new()),
        preview: RwSignal::new(None),
        start_row: RwSignal::new(1),
        delimiter: RwSignal::new(','),
        columns: RwSignal::new(Vec::new()),
        sent: RwSignal::new((0.0, 0.0)),
        status: RwSignal::new(None),
        error: RwSignal::new(None),
        upload_error: RwSignal::new(None),
        busy: RwSignal::new(false),
    };
    // Which leadset this fills, said where the admin looks first.
    let target = crate::pages::json::resource(move || leadset.get(), get_leadset_overview);
    let title = move || {
        Suspend::new(async move {
            match target.await {
                Ok(o) => {
                    let campaign = o
                        .summary
                        .campaign_name
                        .map(|c| format!(" (campaign {c})"))
                        .unwrap_or_default();
                    view! {
                        <p data-testid="upload-target">
                            "Into the leadset " <strong>{o.summary.settings.name.to_string()}</strong>
                            {campaign} ", which has " {o.summary.leads.total} " leads now."
                        </p>
                    }
                    .into_any()
                }
                Err(e) => {
                    view! { <p class="banner error" role="alert">{e.to_string()}</p> }.into_any()
                }
            }
        })
    };
    let tab = move |s: Source, label: &'static str, key: &'static str| {
        view! {
            <button type="button" role="tab" aria-selected=move || (st.source.get() == s).to_string()
                class:active=move || st.source.get() == s data-source=key
                on:click=move |_| {
                    st.source.set(s);
                    st.preview.set(None);
                    st.status.set(None);
                    st.error.set(None);
                    st.upload_error.set(None);
                }>
                {label}
            </button>
        }
    };
    view! {
        <h1>"Upload leads"</h1>
        <Suspense fallback=|| ()>{title}</Suspense>
        <p><a href=move || format!("/admin/leadsets/{}", leadset.get())>"← Back to the leadset"</a></p>
        <noscript><p class="banner error">"Uploading needs JavaScript. Turn it on and reload this page."</p></noscript>
        <section class="card">
            <h2>"1. Choose the leads"</h2>
            <div class="tabs" role="tablist" aria-label="Where the leads come from">
                {tab(Source::File, "File", "file")}
                {tab(Source::Url, "URL", "url")}
                {tab(Source::Paste, "Paste", "paste")}
            </div>
            {move || match st.source.get() {
                Source::File => view! {
                    <div class="dropzone" data-testid="dropzone"
                        on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default()
                        on:drop=move |ev: leptos::ev::DragEvent| dropped(ev, st)>
                        <p>"Drop a .csv file here, or "</p>
                        <input type="file" accept=".csv,text/csv,text/plain" data-testid="lead-file" aria-label="Lead file (CSV)"
                            on:change=move |ev| picked(ev, st) />
                        <p class="muted">{move || st.file_name.get()}</p>
                    </div>
                }.into_any(),
                Source::Url => view! {
                    <label>"URL of a CSV file"
                        <input type="url" name="url" placeholder="https://…" data-testid="lead-url"
                            prop:value=move || st.url.get()
                            on:input=move |ev| st.url.set(event_target_value(&ev)) />
                    </label>
                }.into_any(),
                Source::Paste => view! {
                    <label>"Rows (CSV, with or without a header)"
                        <textarea rows="8" data-testid="lead-text"
                            prop:value=move || st.text.get()
                            on:input=move |ev| st.text.set(event_target_value(&ev))></textarea>
                    </label>
                }.into_any(),
            }}
            <p>
                <button type="button" class="primary" data-testid="preview"
                    disabled=move || st.busy.get() on:click=move |_| preview(st)>"Preview"</button>
            </p>
            {move || st.error.get().map(|e| view! { <p class="banner error" role="alert" data-testid="upload-error">{e}</p> })}
        </section>
        {move || st.preview.get().map(|p| view! { <Mapping p st /> })}
        {move || st.status.get().map(|s| view! { <Progress s st /> })}
    }
}

/// A custom field name made from a header (what the server accepts: `a-z0-9_`).
fn custom_name(header: &str, i: usize) -> String {
    let s: String = header
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let s = s.trim_matches('_').to_string();
    if s.is_empty()
        || Contact::FIELDS.contains(&s.as_str())
        || ["phone", "status", "timezone"].contains(&s.as_str())
    {
        format!("column_{}", i + 1)
    } else {
        s
    }
}

#[component]
fn Mapping(p: ImportPreview, st: State) -> impl IntoView {
    let headers: Vec<String> = p.rows.first().cloned().unwrap_or_default();
    let header = move |i: usize| headers.get(i).cloned().unwrap_or_default();
    let selects = (0..p.columns)
        .map(|i| {
            let h = header(i);
            let custom = format!("custom:{}", custom_name(&h, i));
            let opts = ["ignore", "phone", "status", "timezone"]
                .into_iter()
                .map(String::from)
                .chain(Contact::FIELDS.iter().map(|f| f.to_string()))
                .chain(std::iter::once(custom))
                .map(|v| {
                    let label = v.replace('_', " ");
                    let value = v.clone();
                    view! { <option value=v.clone() selected=move || st.columns.read().get(i) == Some(&value)>{label}</option> }
                })
                .collect_view();
            view! {
                <th>
                    <select aria-label=format!("Column {}", i + 1) data-column=i
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            st.columns.update(|c| if let Some(slot) = c.get_mut(i) { *slot = v });
                        }>
                        {opts}
                    </select>
                </th>
            }
        })
        .collect_view();
    let rows = p
        .rows
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let row = n as u32 + 1;
            let cells = (0..p.columns)
                .map(|i| view! { <td>{r.get(i).cloned().unwrap_or_default()}</td> })
                .collect_view();
            view! { <tr class:skipped=move || row < st.start_row.get()><td class="muted">{row}</td>{cells}</tr> }
        })
        .collect_view();
    view! {
        <section class="card">
            <h2>"2. Map the columns"</h2>
            <p class="muted">"Phone and Status are required; unmapped columns are ignored. Rows above the start row (a header) are skipped."</p>
            <div class="row-form">
                <label>"Start row"
                    <input type="number" min="1" data-testid="start-row" prop:value=move || st.start_row.get().to_string()
                        on:input=move |ev| st.start_row.set(event_target_value(&ev).parse().unwrap_or(1)) />
                </label>
                <label>"Delimiter"
                    <select data-testid="delimiter" on:change=move |ev| {
                        let d = match event_target_value(&ev).as_str() { "semicolon" => ';', "tab" => '\t', _ => ',' };
                        st.delimiter.set(d);
                        preview(st);
                    }>
                        <option value="comma" selected=p.delimiter == ','>"Comma"</option>
                        <option value="semicolon" selected=p.delimiter == ';'>"Semicolon"</option>
                        <option value="tab" selected=p.delimiter == '\t'>"Tab"</option>
                    </select>
                </label>
            </div>
            <div class="scroll">
                <table class="grid" data-testid="preview-grid">
                    <thead><tr><th>"Row"</th>{selects}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <p>
                <button type="button" class="primary" data-testid="upload"
                    disabled=move || st.busy.get() on:click=move |_| upload(st)>"Upload"</button>
            </p>
            {move || st.upload_error.get().map(|e| view! { <p class="banner error" role="alert" data-testid="import-error">{e}</p> })}
        </section>
    }
}

#[component]
fn Progress(s: ImportStatus, st: State) -> impl IntoView {
    let (sent, total) = st.sent.get_untracked();
    let total = s.total_bytes.map(|t| t as f64).unwrap_or(total);
    let done_bytes = if s.bytes > 0 { s.bytes as f64 } else { sent };
    let pct = if s.done {
        100.0
    } else if total > 0.0 {
        (done_bytes / total * 100.0).min(99.0)
    } else {
        0.0
    };
    let errors = (!s.errors.is_empty()).then(|| {
        let rows = s
            .errors
            .iter()
            .map(|e| view! { <tr><td>{e.row}</td><td>{e.value.clone()}</td><td>{e.reason.clone()}</td></tr> })
            .collect_view();
        view! {
            <table class="grid" data-testid="import-errors">
                <thead><tr><th>"Row"</th><th>"Value"</th><th>"Problem"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p><a href=format!("/admin/imports/{}/errors.csv", s.job) download="" data-testid="error-csv">"Download the error report (CSV)"</a></p>
        }
    });
    view! {
        <section class="card" data-testid="import-progress">
            <h2>"3. Import"</h2>
            <progress max="100" value=format!("{pct:.0}")></progress>
            <p data-testid="import-summary" data-done=s.done.to_string()>
                {if s.done { "Finished: " } else { "Importing: " }}
                {format!("{} rows read, {} imported, {} duplicates, {} rejected.", s.rows, s.inserted, s.duplicates, s.invalid)}
            </p>
            {s.failed.clone().map(|f| view! { <p class="banner error" role="alert">{f}</p> })}
            {errors}
        </section>
    }
}

/// Step 1: ask the server for the first rows.
fn preview(st: State) {
    st.error.set(None);
    st.upload_error.set(None);
    st.status.set(None);
    st.busy.set(true);
    let source = st.source.get_untracked();
    let delimiter = match st.preview.get_untracked() {
        Some(_) => match st.delimiter.get_untracked() {
            ';' => "semicolon",
            '\t' => "tab",
            _ => "comma",
        },
        None => "auto",
    }
    .to_string();
    leptos::task::spawn_local(async move {
        let result = match source {
            Source::Url => preview_url(st.url.get_untracked(), delimiter).await,
            Source::Paste => preview_text(st.text.get_untracked(), delimiter).await,
            Source::File => match file_head(st).await {
                Ok(text) => preview_text(text, delimiter).await,
                Err(e) => {
                    st.error.set(Some(e));
                    st.busy.set(false);
                    return;
                }
            },
        };
        st.busy.set(false);
        match result {
            Ok(p) => {
                let layout = p.layout();
                // A new preview takes the guess; a re-read with another delimiter keeps the
                // start row the admin may have set.
                if st.preview.get_untracked().is_none() {
                    st.start_row.set(if layout.header { 2 } else { 1 });
                }
                st.delimiter.set(p.delimiter);
                st.columns.set(layout.columns.iter().map(ColumnTarget::as_value).collect());
                st.preview.set(Some(p));
            }
            Err(e) => st.error.set(Some(e.to_string())),
        }
    });
}

/// The first 64 KB of the chosen file, as text.
async fn file_head(st: State) -> Result<String, String> {
    #[cfg(feature = "hydrate")]
    {
        let file = st.file.get_value().ok_or("Choose a file first.")?;
        let blob =
            file.slice_with_i32_and_i32(0, 64 * 1024).map_err(|_| "Cannot read the file.")?;
        let text = wasm_bindgen_futures::JsFuture::from(blob.text())
            .await
            .map_err(|_| "Cannot read the file.".to_string())?;
        text.as_string().ok_or_else(|| "Cannot read the file.".into())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = st;
        Err("Uploading needs JavaScript.".into())
    }
}

fn picked(ev: leptos::ev::Event, st: State) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let file = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|i| i.files())
            .and_then(|f| f.get(0));
        choose(file, st);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, st);
}

fn dropped(ev: leptos::ev::DragEvent, st: State) {
    ev.prevent_default();
    #[cfg(feature = "hydrate")]
    choose(ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)), st);
    #[cfg(not(feature = "hydrate"))]
    let _ = st;
}

#[cfg(feature = "hydrate")]
fn choose(file: Option<web_sys::File>, st: State) {
    st.file_name.set(
        file.as_ref().map(|f| format!("{} ({} bytes)", f.name(), f.size())).unwrap_or_default(),
    );
    st.file.set_value(file);
    st.preview.set(None);
    st.status.set(None);
    st.error.set(None);
}

/// Step 3: create the job, send the file (or let the server fetch the URL), follow progress.
fn upload(st: State) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(net::run(st));
    #[cfg(not(feature = "hydrate"))]
    let _ = st;
}

#[cfg(feature = "hydrate")]
mod net {
    //! The browser side of the upload: XMLHttpRequest (for upload progress) wrapped in
    //! promises, and status polling.

    use super::{Source, State};
    use crate::model::ApiError;
    use crate::model::leadset::ImportStatus;
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::XmlHttpRequest;

    /// What the request sends.
    enum Body {
        Json(String),
        File(web_sys::File),
        Text(String),
        None,
    }

    /// One request; `progress` gets (sent, total) bytes of the upload.
    async fn send(
        method: &str,
        url: &str,
        body: Body,
        progress: Option<Box<dyn Fn(f64, f64)>>,
    ) -> Result<(u16, String), String> {
        let fail =
            |_| "Could not reach the server. Check the connection and try again.".to_string();
        let xhr = XmlHttpRequest::new().map_err(fail)?;
        xhr.open(method, url).map_err(fail)?;
        let done = js_sys::Promise::new(&mut |resolve, reject| {
            xhr.set_onload(Some(
                Closure::once_into_js(move || resolve.call0(&JsValue::NULL)).unchecked_ref(),
            ));
            xhr.set_onerror(Some(
                Closure::once_into_js(move || reject.call0(&JsValue::NULL)).unchecked_ref(),
            ));
        });
        let _keep = progress.map(|p| {
            let cb =
                Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                    p(e.loaded(), e.total())
                });
            if let Ok(up) = xhr.upload() {
                up.set_onprogress(Some(cb.as_ref().unchecked_ref()));
            }
            cb
        });
        match body {
            Body::Json(s) => {
                xhr.set_request_header("content-type", "application/json").map_err(fail)?;
                xhr.send_with_opt_str(Some(&s))
            }
            Body::Text(s) => xhr.send_with_opt_str(Some(&s)),
            Body::File(f) => xhr.send_with_opt_blob(Some(&f)),
            Body::None => xhr.send(),
        }
        .map_err(fail)?;
        wasm_bindgen_futures::JsFuture::from(done).await.map_err(fail)?;
        Ok((xhr.status().unwrap_or(0), xhr.response_text().ok().flatten().unwrap_or_default()))
    }

    /// The error a reply carries, in words.
    fn error_text(status: u16, body: &str) -> String {
        serde_json::from_str::<ApiError>(body)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| format!("The server answered {status}."))
    }

    async fn sleep(ms: i32) {
        let p = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(p).await;
    }

    async fn poll(job: u64) -> Option<ImportStatus> {
        let (code, body) =
            send("GET", &format!("/admin/imports/{job}"), Body::None, None).await.ok()?;
        (code == 200).then(|| serde_json::from_str(&body).ok()).flatten()
    }

    pub async fn run(st: State) {
        st.upload_error.set(None);
        st.busy.set(true);
        st.sent.set((0.0, 0.0));
        let source = st.source.get_untracked();
        let url = (source == Source::Url).then(|| st.url.get_untracked());
        let delimiter = st.delimiter.get_untracked().to_string();
        let form = serde_json::json!({
            "start_row": st.start_row.get_untracked(),
            "delimiter": delimiter,
            "columns": st.columns.get_untracked(),
            "url": url,
        });
        let leadset = st.leadset.get_untracked();
        let created = send(
            "POST",
            &format!("/admin/leadsets/{leadset}/imports"),
            Body::Json(form.to_string()),
            None,
        )
        .await;
        let job = match created {
            Ok((200, body)) => match serde_json::from_str::<ImportStatus>(&body) {
                Ok(s) => {
                    let job = s.job;
                    st.status.set(Some(s));
                    job
                }
                Err(_) => {
                    return finish(st, Some("The server's answer was not understood.".into()));
                }
            },
            Ok((code, body)) => return finish(st, Some(error_text(code, &body))),
            Err(e) => return finish(st, Some(e)),
        };
        if source == Source::Url {
            loop {
                sleep(400).await;
                if let Some(s) = poll(job).await {
                    let done = s.done;
                    st.status.set(Some(s));
                    if done {
                        break;
                    }
                }
            }
            return finish(st, None);
        }
        let body = match source {
            Source::File => match st.file.get_value() {
                Some(f) => {
                    st.sent.set((0.0, f.size()));
                    Body::File(f)
                }
                None => return finish(st, Some("Choose a file first.".into())),
            },
            _ => Body::Text(st.text.get_untracked()),
        };
        // Poll while the body streams, so the bar moves with the import too.
        let uploading = StoredValue::new(true);
        leptos::task::spawn_local(async move {
            while uploading.get_value() {
                sleep(500).await;
                if !uploading.get_value() {
                    break;
                }
                if let Some(s) = poll(job).await {
                    if uploading.get_value() {
                        st.status.set(Some(s));
                    }
                }
            }
        });
        let on_progress: Box<dyn Fn(f64, f64)> =
            Box::new(move |sent, total| st.sent.set((sent, total)));
        let result =
            send("POST", &format!("/admin/imports/{job}/data"), body, Some(on_progress)).await;
        uploading.set_value(false);
        match result {
            Ok((200, body)) => {
                if let Ok(s) = serde_json::from_str::<ImportStatus>(&body) {
                    st.status.set(Some(s));
                }
                finish(st, None)
            }
            Ok((code, body)) => {
                st.status.set(None);
                finish(st, Some(error_text(code, &body)))
            }
            Err(e) => finish(st, Some(e)),
        }
    }

    fn finish(st: State, error: Option<String>) {
        st.busy.set(false);
        if error.is_some() {
            st.upload_error.set(error);
        }
    }
}
