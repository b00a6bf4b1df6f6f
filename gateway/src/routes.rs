//! The HTTP route table, derived from the `google.api.http` annotations of every method in
//! the descriptor set. Giving a new RPC a route takes one annotation: nothing here names an
//! endpoint.
//!
//! Path templates follow google/api/http.proto: `/v1/posts/{id}`, nested fields
//! (`{lecture.id}`), sub-patterns (`{name=shelves/*}`), `*`, `**` and a trailing custom verb
//! (`/v1/posts/{id}:like`).

use std::sync::Arc;

use campus_proto::google::api::HttpRule;
use campus_proto::google::api::http_rule::Pattern;
use http::Method;
use prost::Message as _;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MethodDescriptor, Value};

/// Where the HTTP request body goes in the request message.
#[derive(Debug, Clone)]
pub(crate) enum BodyRule {
    /// No body: every field comes from the path and the query string.
    None,
    /// `body: "*"`: the JSON body is the request message (path variables override it).
    Whole,
    /// `body: "<field>"`: the body is one field (raw bytes when it is a `google.api.HttpBody`).
    Field(FieldDescriptor),
}

/// One annotated RPC as the transcoder needs it.
#[derive(Debug)]
pub(crate) struct Rpc {
    /// `/campus.board.v1.BoardService/GetPost`.
    pub(crate) grpc_path: String,
    pub(crate) method: MethodDescriptor,
    pub(crate) body: BodyRule,
    pub(crate) response_body: Option<FieldDescriptor>,
    /// `Create*` and `SignUp` answer 201 unless the service says otherwise (`x-http-code`).
    pub(crate) created: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: the rest of the path (only last).
    Rest,
}

/// A path variable: which field it sets and which template segments it spans.
#[derive(Debug, Clone)]
struct Variable {
    field_path: Vec<FieldDescriptor>,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone)]
struct PathTemplate {
    segments: Vec<Segment>,
    verb: Option<String>,
    variables: Vec<Variable>,
}

/// A bound path variable: the field path and the percent-decoded text.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub(crate) field_path: Vec<FieldDescriptor>,
    pub(crate) value: String,
}

#[derive(Debug)]
struct Route {
    method: Method,
    template: PathTemplate,
    rpc: Arc<Rpc>,
}

/// What a request path and method resolve to.
#[derive(Debug)]
pub(crate) enum Match<'a> {
    Found(&'a Arc<Rpc>, Vec<Binding>),
    /// The path exists, with these methods.
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

/// Every HTTP route of the public services.
#[derive(Debug)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

/// A bad annotation: the gateway refuses to start rather than serve a wrong route.
#[derive(Debug, thiserror::Error)]
#[error("{method}: {problem}")]
pub(crate) struct RouteError {
    method: String,
    problem: String,
}

impl RouteTable {
    /// Reads every method's `google.api.http` rule (and its additional bindings). Internal
    /// services are never routed, even if someone annotates them.
    pub(crate) fn from_pool(pool: &DescriptorPool) -> Result<Self, RouteError> {
        let extension = pool.get_extension_by_name("google.api.http");
        let mut routes = Vec::new();
        for service in pool.services() {
            if service.name().ends_with("InternalService") {
                continue;
            }
            for method in service.methods() {
                let Some(extension) = &extension else { continue };
                let options = method.options();
                if !options.has_extension(extension) {
                    continue;
                }
                let Value::Message(rule) = options.get_extension(extension).into_owned() else {
                    continue;
                };
                let rule = HttpRule::decode(rule.encode_to_vec().as_slice()).map_err(|e| RouteError {
                    method: method.full_name().to_string(),
                    problem: e.to_string(),
                })?;
                let mut rules = vec![rule.clone()];
                rules.extend(rule.additional_bindings.iter().cloned());
                for rule in rules {
                    if let Some(route) = Route::new(&method, &rule)? {
                        routes.push(route);
                    }
                }
            }
        }
        Ok(Self { routes })
    }

    /// The answer type of every route.
    pub(crate) fn outputs(&self) -> impl Iterator<Item = prost_reflect::MessageDescriptor> + '_ {
        self.routes.iter().map(|route| route.rpc.method.output())
    }

    /// How many routes there are.
    pub(crate) fn len(&self) -> usize {
        self.routes.len()
    }

    /// The most specific route for a path: literal segments beat variables, so
    /// `/v1/users/me` wins over `/v1/users/{id}`.
    pub(crate) fn find(&self, method: &Method, path: &str) -> Match<'_> {
        let Some(path) = path.strip_prefix('/') else { return Match::NotFound };
        let parts: Vec<&str> = path.split('/').collect();
        let mut best: Option<(&Route, Vec<Binding>, (usize, usize))> = None;
        let mut allowed = Vec::new();
        for route in &self.routes {
            let Some(bindings) = route.template.matches(&parts) else { continue };
            if route.method != *method {
                if !allowed.contains(&route.method) {
                    allowed.push(route.method.clone());
                }
                continue;
            }
            let score = route.template.specificity();
            if best.as_ref().is_none_or(|(_, _, s)| score > *s) {
                best = Some((route, bindings, score));
            }
        }
        match best {
            Some((route, bindings, _)) => Match::Found(&route.rpc, bindings),
            None if !allowed.is_empty() => Match::MethodNotAllowed(allowed),
            None => Match::NotFound,
        }
    }
}

impl Route {
    fn new(method: &MethodDescriptor, rule: &HttpRule) -> Result<Option<Self>, RouteError> {
        let error = |problem: String| RouteError { method: method.full_name().to_string(), problem };
        let (http_method, template) = match &rule.pattern {
            Some(Pattern::Get(p)) => (Method::GET, p),
            Some(Pattern::Put(p)) => (Method::PUT, p),
            Some(Pattern::Post(p)) => (Method::POST, p),
            Some(Pattern::Delete(p)) => (Method::DELETE, p),
            Some(Pattern::Patch(p)) => (Method::PATCH, p),
            Some(Pattern::Custom(c)) => {
                (Method::from_bytes(c.kind.as_bytes()).map_err(|e| error(e.to_string()))?, &c.path)
            }
            None => return Ok(None),
        };
        let input = method.input();
        let template = PathTemplate::parse(template, &input).map_err(error)?;
        let body = match rule.body.as_str() {
            "" => BodyRule::None,
            "*" => BodyRule::Whole,
            name => BodyRule::Field(
                input.get_field_by_name(name).ok_or_else(|| error(format!("no body field {name}")))?,
            ),
        };
        let output = method.output();
        let response_body = match rule.response_body.as_str() {
            "" => None,
            name => Some(
                output
                    .get_field_by_name(name)
                    .ok_or_else(|| error(format!("no response_body field {name}")))?,
            ),
        };
        let name = method.name();
        let rpc = Rpc {
            grpc_path: format!("/{}/{}", method.parent_service().full_name(), name),
            method: method.clone(),
            body,
            response_body,
            created: name.starts_with("Create") || name == "SignUp",
        };
        Ok(Some(Route { method: http_method, template, rpc: Arc::new(rpc) }))
    }
}

/// Splits `text` on `separator` outside `{...}`.
fn split_outside_braces(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if c == separator && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_segment(raw: &str) -> Result<Segment, String> {
    match raw {
        "*" => Ok(Segment::One),
        "**" => Ok(Segment::Rest),
        "" => Err("empty path segment".into()),
        literal if literal.contains(['{', '}', '*']) => Err(format!("bad segment {literal}")),
        literal => Ok(Segment::Literal(literal.to_string())),
    }
}

impl PathTemplate {
    fn parse(template: &str, input: &prost_reflect::MessageDescriptor) -> Result<Self, String> {
        let rest = template.strip_prefix('/').ok_or("a template starts with /")?;
        let segments_and_verb = split_outside_braces(rest, '/');
        let (last, init) = segments_and_verb.split_last().ok_or("empty template")?;
        // The verb is whatever follows the last ':' of the last segment, outside a variable.
        let last_parts = split_outside_braces(last, ':');
        let (last, verb) = match last_parts.as_slice() {
            [segment] => (*segment, None),
            [segment, verb] => (*segment, Some(verb.to_string())),
            _ => return Err(format!("bad verb in {template}")),
        };
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        for raw in init.iter().copied().chain(std::iter::once(last)) {
            if let Some(inner) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                let (path, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                let field_path = resolve_field_path(input, path)?;
                let start = segments.len();
                for part in pattern.split('/') {
                    segments.push(parse_segment(part)?);
                }
                variables.push(Variable { field_path, start, end: segments.len() });
            } else {
                segments.push(parse_segment(raw)?);
            }
        }
        if segments.iter().rev().skip(1).any(|s| *s == Segment::Rest) {
            return Err(format!("** must be the last segment in {template}"));
        }
        Ok(Self { segments, verb, variables })
    }

    /// (literal segments, segments overall): more of both is more specific.
    fn specificity(&self) -> (usize, usize) {
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        let fixed = self.segments.iter().filter(|s| **s != Segment::Rest).count();
        (literals + usize::from(self.verb.is_some()), fixed)
    }

    /// The variable bindings when the path (split on `/`, without the leading one) fits.
    fn matches(&self, parts: &[&str]) -> Option<Vec<Binding>> {
        let (&raw_last, _) = parts.split_last()?;
        let last = match &self.verb {
            Some(verb) => raw_last.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            // Without a verb in the template, a ':' in the last segment names a custom method
            // this template does not have (`/v1/posts/1:like` is not `/v1/posts/{id}`).
            None if raw_last.contains(':') => return None,
            None => raw_last,
        };
        let n = parts.len();
        let part = |i: usize| if i + 1 == n { last } else { parts[i] };
        // Where each template segment's text starts and ends in `parts`.
        let mut spans = Vec::with_capacity(self.segments.len());
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => {
                    if i >= n || part(i) != l {
                        return None;
                    }
                    spans.push((i, i + 1));
                    i += 1;
                }
                Segment::One => {
                    if i >= n || part(i).is_empty() {
                        return None;
                    }
                    spans.push((i, i + 1));
                    i += 1;
                }
                Segment::Rest => {
                    spans.push((i, n));
                    i = n;
                }
            }
        }
        if i != n {
            return None;
        }
        let bindings = self
            .variables
            .iter()
            .map(|v| {
                let from = spans[v.start].0;
                let to = spans[v.end - 1].1;
                let text: Vec<&str> = (from..to).map(part).collect();
                Binding { field_path: v.field_path.clone(), value: percent_decode(&text.join("/")) }
            })
            .collect();
        Some(bindings)
    }
}

/// `a.b.c` as field descriptors, every step but the last a singular message field.
pub(crate) fn resolve_field_path(
    message: &prost_reflect::MessageDescriptor,
    path: &str,
) -> Result<Vec<FieldDescriptor>, String> {
    let mut fields = Vec::new();
    let mut current = message.clone();
    let names: Vec<&str> = path.split('.').collect();
    for (i, name) in names.iter().enumerate() {
        let field = current
            .get_field_by_name(name)
            .or_else(|| current.get_field_by_json_name(name))
            .ok_or_else(|| format!("{} has no field {name}", current.full_name()))?;
        if i + 1 < names.len() {
            match field.kind() {
                Kind::Message(m) if !field.is_list() && !field.is_map() => current = m,
                _ => return Err(format!("{name} is not a message field")),
            }
        }
        fields.push(field);
    }
    Ok(fields)
}

/// Decodes `%XX` escapes (and leaves a malformed escape as it is); `+` stays `+` in paths.
pub(crate) fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let pool = DescriptorPool::decode(campus_proto::FILE_DESCRIPTOR_SET).unwrap();
        RouteTable::from_pool(&pool).unwrap()
    }

    fn found(table: &RouteTable, method: Method, path: &str) -> (String, Vec<(String, String)>) {
        match table.find(&method, path) {
            Match::Found(rpc, bindings) => (
                rpc.grpc_path.clone(),
                bindings
                    .into_iter()
                    .map(|b| {
                        let names: Vec<&str> = b.field_path.iter().map(|f| f.name()).collect();
                        (names.join("."), b.value)
                    })
                    .collect(),
            ),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn every_annotated_public_rpc_has_a_route() {
        let table = table();
        assert!(table.len() > 60, "only {} routes", table.len());
        assert!(!table.routes.iter().any(|r| r.rpc.grpc_path.contains("Internal")));
    }

    #[test]
    fn variables_and_verbs_bind() {
        let table = table();
        assert_eq!(
            found(&table, Method::GET, "/v1/posts/42"),
            ("/campus.board.v1.BoardService/GetPost".into(), vec![("id".into(), "42".into())])
        );
        assert_eq!(
            found(&table, Method::POST, "/v1/posts/42:like"),
            ("/campus.board.v1.BoardService/LikePost".into(), vec![("id".into(), "42".into())])
        );
        assert_eq!(
            found(&table, Method::GET, "/v1/posts:search").0,
            "/campus.board.v1.BoardService/SearchPosts"
        );
        assert_eq!(
            found(&table, Method::POST, "/v1/friend-requests/7:decline").0,
            "/campus.account.v1.AccountService/DeclineFriendRequest"
        );
    }

    #[test]
    fn literals_beat_variables() {
        let table = table();
        assert_eq!(found(&table, Method::GET, "/v1/users/me").0, "/campus.account.v1.AccountService/GetMe");
        assert_eq!(found(&table, Method::GET, "/v1/users/5").0, "/campus.account.v1.AccountService/GetUser");
    }

    #[test]
    fn wrong_method_and_unknown_paths() {
        let table = table();
        match table.find(&Method::PUT, "/v1/posts/1") {
            Match::MethodNotAllowed(allowed) => {
                assert!(allowed.contains(&Method::GET) && allowed.contains(&Method::PATCH))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(table.find(&Method::GET, "/v1/nothing"), Match::NotFound));
        assert!(matches!(table.find(&Method::GET, "/v1/posts/1:unknown"), Match::NotFound));
        assert!(matches!(table.find(&Method::GET, "/v1/posts/"), Match::NotFound));
    }

    #[test]
    fn sub_patterns_and_rest_segments() {
        let pool = DescriptorPool::decode(campus_proto::FILE_DESCRIPTOR_SET).unwrap();
        let input = pool.get_message_by_name("campus.board.v1.GetPostRequest").unwrap();
        let template = PathTemplate::parse("/v1/{id=posts/*}/x/**:go", &input).unwrap();
        let bindings = template.matches(&["v1", "posts", "9", "x", "a", "b:go"]).unwrap();
        assert_eq!(bindings[0].value, "posts/9");
        assert!(template.matches(&["v1", "posts", "9", "x", "a"]).is_none());
        assert!(PathTemplate::parse("/v1/{nope}", &input).is_err());
        assert!(PathTemplate::parse("v1/x", &input).is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("%ED%95%9C"), "한");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
