//! `/files/…`: the capture sets and reports under the reports directory, and nothing else.
//!
//! A request's path is taken apart segment by segment (after percent-decoding): an empty, `.` or
//! `..` segment, or one holding a backslash, a NUL or a drive colon, is refused before the disk is
//! touched. What is left is joined to the (canonical) reports directory and canonicalised, so a
//! symbolic link that leads out of it is refused too; a directory lists only what stays inside.
//! Everything refused answers 404, saying nothing of what is outside. HTML is served with a
//! content security policy that runs no script and fetches nothing from elsewhere.

use super::{pages, Shared, View};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// What a path segment keeps unencoded in a link.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The links of a capture set: its directory and its report, where it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Links {
    pub dir: String,
    pub report: Option<String>,
}

/// `/files/` and the path of `rel` (relative to the reports directory), each segment encoded.
fn url_of(rel: &Path, dir: bool) -> String {
    let mut url = "/files/".to_string();
    let parts: Vec<String> =
        rel.iter().map(|s| utf8_percent_encode(&s.to_string_lossy(), SEGMENT).to_string()).collect();
    url.push_str(&parts.join("/"));
    if dir && !parts.is_empty() {
        url.push('/');
    }
    url
}

/// The links of a stored capture set when it lies under `root` (canonical). A stored path is
/// what the batch was given: absolute, or relative to where it ran, which is tried from here,
/// from the reports directory and from its parent (`reports/b1/SN-1` with `--reports reports`).
pub fn under(root: &Path, capture_set: &str) -> Option<Links> {
    let stored = Path::new(capture_set);
    let candidates: Vec<PathBuf> = if stored.is_absolute() {
        vec![stored.to_path_buf()]
    } else {
        let mut c = vec![root.join(stored)];
        if let Some(parent) = root.parent() {
            c.push(parent.join(stored));
        }
        if let Ok(cwd) = std::env::current_dir() {
            c.push(cwd.join(stored));
        }
        c
    };
    let dir =
        candidates.iter().filter_map(|c| std::fs::canonicalize(c).ok()).find(|c| c.starts_with(root) && c.is_dir())?;
    let rel = dir.strip_prefix(root).ok()?;
    let report = dir.join("report.html");
    let report = std::fs::canonicalize(&report).ok().filter(|r| r.starts_with(root) && r.is_file());
    Some(Links { dir: url_of(rel, true), report: report.map(|_| url_of(&rel.join("report.html"), false)) })
}

/// The file or directory a request names, inside `root`, or `None` (refused or absent).
pub fn resolve(root: &Path, requested: &str) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for seg in requested.split('/') {
        if seg.is_empty() {
            continue; // a trailing slash, or doubled ones
        }
        if seg == "." || seg == ".." || seg.contains(['\\', '\0', ':']) {
            return None;
        }
        // One plain name per segment, whatever the platform makes of it.
        let mut parts = Path::new(seg).components();
        if !matches!((parts.next(), parts.next()), (Some(Component::Normal(_)), None)) {
            return None;
        }
        rel.push(seg);
    }
    let found = std::fs::canonicalize(root.join(&rel)).ok()?;
    found.starts_with(root).then_some(found)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("wav") => "audio/wav",
        Some("json") => "application/json",
        Some("csv") => "text/csv; charset=utf-8",
        Some("toml" | "txt" | "log" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// No script, nothing fetched from elsewhere; images and styles of the page itself.
const CSP: &str = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; media-src 'self'; sandbox";

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such file under the reports directory\n").into_response()
}

async fn answer(state: Shared, q: HashMap<String, String>, requested: String) -> Response {
    let view = state.view(&q);
    let Some(root) = view.reports.clone() else {
        return (StatusCode::NOT_FOUND, "no reports are served: start jackbench serve with --reports DIR\n")
            .into_response();
    };
    let Some(path) = resolve(&root, &requested) else { return not_found() };
    if path.is_dir() {
        return listing(&view, &root, &path).await;
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, CSP),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => not_found(),
    }
}

/// A directory's entries that stay inside the reports directory, directories first.
async fn listing(view: &View, root: &Path, dir: &Path) -> Response {
    let mut entries: Vec<(bool, String, PathBuf)> = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let Ok(real) = tokio::fs::canonicalize(e.path()).await else { continue };
            if !real.starts_with(root) {
                continue;
            }
            let Ok(rel) = real.strip_prefix(root) else { continue };
            entries.push((real.is_dir(), e.file_name().to_string_lossy().into_owned(), rel.to_path_buf()));
        }
    }
    entries.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let here = dir.strip_prefix(root).unwrap_or(Path::new(""));
    let body = html! {
        header { h1 { "Reports / " (here.display()) } }
        section {
            @if let Some(parent) = here.parent() {
                p { a href=(view.link(&url_of(parent, true), &[])) { "↑ up" } }
            }
            table {
                tr { th { "name" } }
                @for (is_dir, name, rel) in &entries {
                    tr { td { a href=(view.link(&url_of(rel, *is_dir), &[])) { (name) @if *is_dir { "/" } } } }
                }
            }
        }
    };
    Html(pages::page(view, "reports", body, false).0).into_response()
}

pub(super) async fn root(State(state): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    answer(state, q, String::new()).await
}

pub(super) async fn get(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    answer(state, q, path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_under_the_root_resolve() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::create_dir_all(root.join("b1/SN 1")).expect("dirs");
        std::fs::write(root.join("b1/SN 1/report.html"), "<p>r</p>").expect("written");
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret.txt"), "s").expect("written");
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), root.join("b1/escape")).expect("symlink");
        assert_eq!(resolve(&root, "b1/SN 1/report.html"), Some(root.join("b1/SN 1/report.html")));
        assert_eq!(resolve(&root, "b1//SN 1/"), Some(root.join("b1/SN 1")));
        assert_eq!(resolve(&root, ""), Some(root.clone()));
        for bad in [
            "../etc/passwd",
            "b1/../../etc/passwd",
            "b1/./SN 1",
            "/etc/passwd", // a plain path under the root (its empty first segment skipped): absent
            "b1\\..\\..\\x",
            "C:/x",
            "b1/escape/secret.txt",
            "b1/escape",
            "nothing/here",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad}");
        }
        let links = under(&root, root.join("b1/SN 1").to_str().expect("utf-8")).expect("under");
        assert_eq!(
            links,
            Links { dir: "/files/b1/SN%201/".into(), report: Some("/files/b1/SN%201/report.html".into()) }
        );
        let name = root.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(under(&root, &format!("{name}/b1/SN 1")).map(|l| l.dir), Some("/files/b1/SN%201/".into()));
        assert_eq!(under(&root, outside.path().to_str().expect("utf-8")), None);
        assert_eq!(under(&root, "b1/escape"), None);
    }
}
