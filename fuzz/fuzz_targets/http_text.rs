// Shared by the targets that take an HTTP request as text (included with
// `#[path]`, not a crate: each fuzz target is its own binary).
//
// Layout: `METHOD SP TARGET '\n'` then `Name: value '\n'` header lines up to
// an empty line, then the body. TARGET is `PATH[?QUERY]`. Line ends may be
// `\r\n`. Bytes that are not UTF-8 in the request line or header names are
// replaced (U+FFFD); header values and the body stay raw bytes.

pub struct HttpText<'a> {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, &'a [u8])>,
    pub body: &'a [u8],
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub fn parse_http_text(data: &[u8]) -> HttpText<'_> {
    let mut rest = data;
    let mut next_line = || -> Option<&[u8]> {
        if rest.is_empty() {
            return None;
        }
        let (line, tail) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = tail;
        Some(strip_cr(line))
    };
    let request_line = String::from_utf8_lossy(next_line().unwrap_or_default()).into_owned();
    let (method, target) = request_line
        .split_once(' ')
        .unwrap_or((request_line.as_str(), "/"));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    while let Some(line) = next_line() {
        if line.is_empty() {
            break;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &line[line.len()..]),
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        headers.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    HttpText {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: rest,
    }
}
