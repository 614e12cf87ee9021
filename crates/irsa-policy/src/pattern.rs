//! Compiled string templates: literals, `*`/`?` wildcards and policy
//! variables. Matching walks the compiled tokens directly against the input
//! (no allocation, variables are looked up in place).

/// Looks up a policy variable by its lower-cased key.
pub(crate) trait Vars {
    fn var(&self, key_lc: &str) -> Option<&str>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Lit(Box<str>),
    /// `*`: any run of characters (also none).
    Star,
    /// `?`: exactly one character.
    One,
    /// `${key}` or `${key, 'default'}`; `key` is lower-cased.
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Template {
    /// The single pattern `*`.
    Any,
    /// Plain text, no wildcards, no variables.
    Exact(Box<str>),
    Tokens(Box<[Token]>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (Like operators, actions, resources).
    pub wildcards: bool,
    /// `${…}` is a variable (Version 2012-10-17 only).
    pub variables: bool,
    /// Lower-case literal text (case-insensitive matching against lower-cased input).
    pub lowercase: bool,
}

fn push_lit(tokens: &mut Vec<Token>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(Token::Lit(prev)) = tokens.last_mut() {
        let mut joined = String::with_capacity(prev.len() + s.len());
        joined.push_str(prev);
        joined.push_str(s);
        *prev = joined.into_boxed_str();
    } else {
        tokens.push(Token::Lit(s.into()));
    }
}

/// Parse the inside of `${…}`; `None` if it is not a valid variable.
fn parse_var(inner: &str) -> Option<Token> {
    let inner = inner.trim();
    match inner {
        "*" => return Some(Token::Lit("*".into())),
        "?" => return Some(Token::Lit("?".into())),
        "$" => return Some(Token::Lit("$".into())),
        "" => return None,
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (k.trim(), Some(d.into()))
        }
        None => (inner, None),
    };
    if key.is_empty() || key.contains(['\'', '$', '{']) {
        return None;
    }
    Some(Token::Var {
        key: key.to_lowercase().into(),
        default,
    })
}

impl Template {
    pub(crate) fn compile(source: &str, syntax: Syntax) -> Template {
        let text = if syntax.lowercase {
            std::borrow::Cow::Owned(source.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(source)
        };
        if syntax.wildcards && text == "*" {
            return Template::Any;
        }
        let mut tokens = Vec::new();
        let mut lit_start = 0;
        let mut i = 0;
        let bytes = text.as_bytes();
        while i < bytes.len() {
            let b = bytes[i];
            if syntax.variables && b == b'$' && bytes.get(i + 1) == Some(&b'{') {
                if let Some(close) = text[i + 2..].find('}') {
                    // Variables are parsed from the original text so defaults keep their case.
                    let inner_orig = &source_slice(source, &text, i + 2, i + 2 + close);
                    if let Some(tok) = parse_var(inner_orig) {
                        push_lit(&mut tokens, &text[lit_start..i]);
                        match tok {
                            Token::Lit(l) => push_lit(&mut tokens, &l),
                            other => tokens.push(other),
                        }
                        i += 2 + close + 1;
                        lit_start = i;
                        continue;
                    }
                }
            }
            if syntax.wildcards && (b == b'*' || b == b'?') {
                push_lit(&mut tokens, &text[lit_start..i]);
                tokens.push(if b == b'*' { Token::Star } else { Token::One });
                lit_start = i + 1;
            }
            i += 1;
        }
        push_lit(&mut tokens, &text[lit_start..]);
        match tokens.as_slice() {
            [] => Template::Exact("".into()),
            [Token::Lit(l)] => Template::Exact(l.clone()),
            _ => Template::Tokens(tokens.into_boxed_slice()),
        }
    }

    /// Whether the template refers to a variable.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &str> {
        let tokens: &[Token] = match self {
            Template::Tokens(t) => t,
            _ => &[],
        };
        tokens.iter().filter_map(|t| match t {
            Token::Var { key, default: None } => Some(&**key),
            _ => None,
        })
    }

    /// Match `text`. With `fold`, literal text is compared case-insensitively
    /// (the template should then be compiled lower-case or not; both work).
    pub(crate) fn matches(&self, text: &str, fold: bool, vars: &dyn Vars) -> bool {
        match self {
            Template::Any => true,
            Template::Exact(s) => {
                if fold {
                    eq_fold(s, text)
                } else {
                    bytes_eq(s.as_bytes(), text.as_bytes())
                }
            }
            Template::Tokens(tokens) => glob(tokens, text, fold, vars),
        }
    }
}

/// The `source` text for a byte range of `text` (they differ only when
/// lower-casing changed byte lengths, in which case the lowered text is used).
fn source_slice(source: &str, text: &str, start: usize, end: usize) -> String {
    if source.len() == text.len() && source.is_char_boundary(start) && source.is_char_boundary(end)
    {
        source[start..end].to_owned()
    } else {
        text[start..end].to_owned()
    }
}

/// Equality for the short strings of policies: an inline loop beats a libc
/// `memcmp` call (measured: the call dominated resource matching).
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 64 {
        return a == b;
    }
    // Compare from the end: keys and ARNs share long prefixes.
    a.iter().rev().zip(b.iter().rev()).all(|(x, y)| x == y)
}

#[inline]
fn fold_char(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

pub(crate) fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

/// If `text` starts with `lit`, the number of bytes of `text` it covers.
#[inline]
fn prefix_len(text: &str, lit: &str, fold: bool) -> Option<usize> {
    if !fold {
        let head = text.as_bytes().get(..lit.len())?;
        return bytes_eq(head, lit.as_bytes()).then_some(lit.len());
    }
    let mut rest = text.char_indices();
    for lc in lit.chars() {
        let (_, tc) = rest.next()?;
        if fold_char(tc) != fold_char(lc) {
            return None;
        }
    }
    Some(rest.next().map_or(text.len(), |(i, _)| i))
}

#[inline]
fn char_len_at(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(1, char::len_utf8)
}

/// Wildcard match over tokens with single-star backtracking (linear for one
/// star, worst case O(n·m)); a missing variable without default fails the match.
fn glob(tokens: &[Token], text: &str, fold: bool, vars: &dyn Vars) -> bool {
    let mut p = 0;
    let mut t = 0;
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = if p < tokens.len() {
            match &tokens[p] {
                Token::Star => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Token::One => {
                    if t < text.len() {
                        t += char_len_at(text, t);
                        true
                    } else {
                        false
                    }
                }
                Token::Lit(lit) => match prefix_len(&text[t..], lit, fold) {
                    Some(n) => {
                        t += n;
                        true
                    }
                    None => false,
                },
                Token::Var { key, default } => {
                    let Some(value) = vars.var(key).or(default.as_deref()) else {
                        return false;
                    };
                    match prefix_len(&text[t..], value, fold) {
                        Some(n) => {
                            t += n;
                            true
                        }
                        None => false,
                    }
                }
            }
        } else if t == text.len() {
            return true;
        } else {
            false
        };
        if advanced {
            p += 1;
            continue;
        }
        match star {
            Some((sp, st)) if st < text.len() => {
                let nt = st + char_len_at(text, st);
                star = Some((sp, nt));
                p = sp;
                t = nt;
            }
            _ => return false,
        }
    }
}

/// A resource / ARN pattern: each of the first five `:`-separated parts is
/// matched on its own (a `*` there does not cross `:`); the sixth part (the
/// resource) may contain `:` itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    Any,
    Segments(Box<[Template; 6]>),
    /// Not six segments: matched as one string.
    Whole(Template),
}

impl ArnPattern {
    pub(crate) fn compile(source: &str, variables: bool) -> ArnPattern {
        let syntax = Syntax {
            wildcards: true,
            variables,
            lowercase: false,
        };
        if source == "*" {
            return ArnPattern::Any;
        }
        match split_arn_pattern(source, variables) {
            Some(parts) => {
                let compiled = parts.map(|p| Template::compile(p, syntax));
                ArnPattern::Segments(Box::new(compiled))
            }
            None => ArnPattern::Whole(Template::compile(source, syntax)),
        }
    }

    pub(crate) fn matches(&self, value: &str, vars: &dyn Vars) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Whole(t) => t.matches(value, false, vars),
            ArnPattern::Segments(segs) => {
                let bytes = value.as_bytes();
                let mut start = 0;
                for seg in &segs[..5] {
                    let Some(len) = bytes[start..].iter().position(|&b| b == b':') else {
                        return false;
                    };
                    if !seg.matches(&value[start..start + len], false, vars) {
                        return false;
                    }
                    start += len + 1;
                }
                segs[5].matches(&value[start..], false, vars)
            }
        }
    }

    pub(crate) fn variables(&self) -> Vec<&str> {
        match self {
            ArnPattern::Any => Vec::new(),
            ArnPattern::Whole(t) => t.variables().collect(),
            ArnPattern::Segments(s) => s.iter().flat_map(Template::variables).collect(),
        }
    }
}

/// Split at the first five `:` that are not inside `${…}`.
fn split_arn_pattern(source: &str, variables: bool) -> Option<[&str; 6]> {
    let mut cuts = [0usize; 5];
    let mut n = 0;
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() && n < 5 {
        if variables && bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            if let Some(close) = source[i..].find('}') {
                i += close + 1;
                continue;
            }
        }
        if bytes[i] == b':' {
            cuts[n] = i;
            n += 1;
        }
        i += 1;
    }
    if n < 5 {
        return None;
    }
    Some([
        &source[..cuts[0]],
        &source[cuts[0] + 1..cuts[1]],
        &source[cuts[1] + 1..cuts[2]],
        &source[cuts[2] + 1..cuts[3]],
        &source[cuts[3] + 1..cuts[4]],
        &source[cuts[4] + 1..],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct V(HashMap<&'static str, &'static str>);
    impl Vars for V {
        fn var(&self, key_lc: &str) -> Option<&str> {
            self.0.get(key_lc).copied()
        }
    }
    fn none() -> V {
        V(HashMap::new())
    }
    const LIKE: Syntax = Syntax {
        wildcards: true,
        variables: true,
        lowercase: false,
    };
    const EQ: Syntax = Syntax {
        wildcards: false,
        variables: true,
        lowercase: false,
    };

    fn like(p: &str, t: &str) -> bool {
        Template::compile(p, LIKE).matches(t, false, &none())
    }

    #[test]
    fn wildcards() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("a*", "a", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("ab*ab", "abab", true),
            ("ab*ab", "aba", false),
            ("a*b*", "aXbYb", true),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("", "", true),
            ("", "x", false),
            ("??", "x", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(like(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn case_folding() {
        let t = Template::compile("S3:Get*", LIKE);
        assert!(t.matches("s3:getobject", true, &none()));
        assert!(!t.matches("s3:getobject", false, &none()));
        assert!(eq_fold("ÄBC", "äbc"));
        assert!(!eq_fold("abc", "abd"));
    }

    #[test]
    fn variables_and_specials() {
        let vars = V(HashMap::from([("aws:username", "bob")]));
        let t = Template::compile("home/${aws:username}/*", LIKE);
        assert!(t.matches("home/bob/x", false, &vars));
        assert!(!t.matches("home/alice/x", false, &vars));
        // Missing variable without default never matches.
        assert!(!t.matches("home//x", false, &none()));
        let t = Template::compile("${aws:UserName, 'nobody'}", EQ);
        assert!(t.matches("nobody", false, &none()));
        assert!(t.matches("bob", false, &vars));
        // ${*} is a literal star, also where * is a wildcard.
        let t = Template::compile("a${*}b${?}${$}", LIKE);
        assert!(t.matches("a*b?$", false, &none()));
        assert!(!t.matches("aXb?$", false, &none()));
        // Without variables, ${…} is literal text.
        let t = Template::compile(
            "${aws:username}",
            Syntax {
                wildcards: false,
                variables: false,
                lowercase: false,
            },
        );
        assert!(t.matches("${aws:username}", false, &vars));
        assert!(!t.matches("bob", false, &vars));
        // Wildcards are not wildcards in the Equals syntax.
        assert!(!Template::compile("a*", EQ).matches("ab", false, &none()));
        assert!(Template::compile("a*", EQ).matches("a*", false, &none()));
    }

    #[test]
    fn arn_segments() {
        let p = ArnPattern::compile("arn:aws:iam::*:role/x", true);
        assert!(p.matches("arn:aws:iam::123456789012:role/x", &none()));
        assert!(!p.matches("arn:aws:iam::1:2:role/x", &none()));
        let p = ArnPattern::compile("arn:aws:s3:::bucket/*", true);
        assert!(p.matches("arn:aws:s3:::bucket/a:b/c", &none()));
        assert!(!p.matches("arn:aws:s3:::other/a", &none()));
        let p = ArnPattern::compile("arn:aws:*:*:*:*", true);
        assert!(p.matches("arn:aws:sqs:us-east-1:1:q", &none()));
        assert!(!p.matches("arn:aws:sqs", &none()));
        let vars = V(HashMap::from([("aws:username", "bob")]));
        let p = ArnPattern::compile("arn:aws:s3:::b/${aws:username}/*", true);
        assert!(p.matches("arn:aws:s3:::b/bob/f", &vars));
        assert!(!p.matches("arn:aws:s3:::b/eve/f", &vars));
        assert_eq!(p.variables(), vec!["aws:username"]);
        assert!(ArnPattern::compile("*", true).matches("whatever", &none()));
    }

    fn reference(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| reference(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && reference(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && reference(&p[1..], &t[1..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_reference(p in "[ab*?]{0,10}", t in "[abé]{0,12}") {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            proptest::prop_assert_eq!(like(&p, &t), reference(&pc, &tc), "{} vs {}", p, t);
        }
    }
}
