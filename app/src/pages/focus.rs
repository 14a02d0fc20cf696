//! Keeps keyboard focus from falling to the page body when a page re-renders the part that
//! held it (a form submitted, a list fetched again, a live update): the element that had
//! focus is replaced by a fresh copy of itself, and the browser drops focus. Whenever the
//! DOM changes and focus is on the body while the last focused element is gone, focus goes
//! to the element now at the same place in the page (same position, same kind), else to the
//! newest message banner, else to the page's heading. After a move to another page (a link
//! inside the page), focus goes to the new page's heading. A button disabled while its form
//! is busy loses focus too: it gets it back when it is enabled again.
//!
//! Only a lost focus is restored: when people click elsewhere, the element they left is
//! still in the page and nothing moves. Browser only (the module is compiled for hydration).

/// Starts watching (once, from the app's root).
pub fn keep_focus() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Some(body) = document.body() else { return };
    // The last element that had focus, its path from the body (child indices) and the page
    // it was on.
    let last: Rc<RefCell<Option<(web_sys::Element, Vec<u32>, String)>>> = Rc::default();
    // The last focused element was disabled under the keyboard's hands (see `rescue`).
    let disabled_away: Rc<std::cell::Cell<bool>> = Rc::default();

    let remember = {
        let (last, disabled_away) = (last.clone(), disabled_away.clone());
        let body = body.clone();
        Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
            if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
                let path = path_of(&el, &body);
                *last.borrow_mut() = Some((el, path, page()));
                disabled_away.set(false);
            }
        })
    };
    let _ = document.add_event_listener_with_callback("focusin", remember.as_ref().unchecked_ref());
    remember.forget();

    let rescue = {
        let document = document.clone();
        let body = body.clone();
        Closure::<dyn Fn(js_sys::Array, web_sys::MutationObserver)>::new(move |_, _| {
            let Some((gone, path, was_on)) = last.borrow().clone() else { return };
            let active = document.active_element();
            let focus_lost = active.as_ref().is_none_or(|a| a.is_same_node(Some(body.as_ref())));
            if gone.is_connected() {
                // Disabled while it had focus (a busy form; the browser drops the focus now
                // or a moment later): it gets focus back once enabled. Otherwise it is still
                // there and the person moved away on purpose.
                let had_focus =
                    focus_lost || active.is_some_and(|a| a.is_same_node(Some(gone.as_ref())));
                if gone.has_attribute("disabled") {
                    if had_focus {
                        disabled_away.set(true);
                    }
                } else if disabled_away.replace(false)
                    && focus_lost
                    && let Ok(el) = gone.dyn_into::<web_sys::HtmlElement>()
                {
                    let _ = el.focus();
                }
                return;
            }
            if !focus_lost {
                return;
            }
            let same_page = was_on == page();
            let target = at_path(&body, &path)
                .filter(|el| same_page && el.tag_name() == gone.tag_name())
                .or_else(|| document.query_selector("main .banner").ok().flatten())
                .or_else(|| document.query_selector("main h1").ok().flatten());
            if let Some(el) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                if el.tab_index() < 0 && !el.has_attribute("tabindex") {
                    // Headings and banners take focus only when given it.
                    let _ = el.set_attribute("tabindex", "-1");
                }
                let _ = el.focus();
            }
        })
    };
    let Ok(observer) = web_sys::MutationObserver::new(rescue.as_ref().unchecked_ref()) else {
        return;
    };
    let init = web_sys::MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    init.set_attribute_filter(&js_sys::Array::of1(&"disabled".into()));
    let _ = observer.observe_with_options(&body, &init);
    rescue.forget();
}

/// The page's path, to tell a page drawn again from another page.
fn page() -> String {
    web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default()
}

/// Child indices from `root` down to `el`.
fn path_of(el: &web_sys::Element, root: &web_sys::HtmlElement) -> Vec<u32> {
    let mut path = Vec::new();
    let mut node = el.clone();
    while !node.is_same_node(Some(root.as_ref())) {
        let Some(parent) = node.parent_element() else { return Vec::new() };
        let children = parent.children();
        let index = (0..children.length())
            .find(|&i| children.item(i).is_some_and(|c| c.is_same_node(Some(node.as_ref()))));
        let Some(index) = index else { return Vec::new() };
        path.push(index);
        node = parent;
    }
    path.reverse();
    path
}

/// The element at `path` (child indices) under `root`, if the page still has one there.
fn at_path(root: &web_sys::HtmlElement, path: &[u32]) -> Option<web_sys::Element> {
    if path.is_empty() {
        return None;
    }
    let mut node: web_sys::Element = root.clone().into();
    for &i in path {
        node = node.children().item(i)?;
    }
    Some(node)
}
