//! The request half of transcoding: the request message built from the body, the query
//! string and the path variables, and every field problem found on the way, bounded in number
//! and size, answered as one INVALID_ARGUMENT.

use std::str::FromStr;

use bytes::Bytes;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};
use tonic::Status;

use super::HTTP_BODY;
use crate::routes::{Binding, BodyRule, Rpc, resolve_field_path};

/// A field problem found while building the request message.
#[derive(Debug)]
pub(super) struct Violation {
    pub(super) field: String,
    pub(super) description: String,
}

/// At most this many violations are reported: an answer stays a few KiB, whatever the body.
pub(super) const MAX_VIOLATIONS: usize = 20;
/// Longest field name and description in a violation, in characters.
pub(super) const MAX_FIELD_CHARS: usize = 64;
pub(super) const MAX_DESCRIPTION_CHARS: usize = 160;
/// A body up to this size that fails to decode is parsed again as a JSON value, to name
/// every wrong field; a larger one is answered with the first problem only.
pub(super) const DIAGNOSE_MAX_BYTES: usize = 64 * 1024;

pub(super) fn violation(field: impl Into<String>, description: impl Into<String>) -> Violation {
    Violation {
        field: bounded(&field.into(), MAX_FIELD_CHARS),
        description: bounded(&description.into(), MAX_DESCRIPTION_CHARS),
    }
}

/// `text` cut to `max` characters, with control characters and quotes (which JSON would
/// escape into several bytes each) replaced, so a client's key cannot blow up the answer.
fn bounded(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() || c == '"' || c == '\\' { '?' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

pub(super) fn invalid_argument(violations: Vec<Violation>) -> Status {
    let mut v = campus_shared::error::Violations::new();
    for item in violations {
        v.add(item.field, item.description);
    }
    match v.finish() {
        Err(e) => e.into(),
        Ok(()) => Status::invalid_argument("invalid request"),
    }
}

/// Builds the request message: the body first, then query parameters (when the body is not
/// the whole message), then path variables, which win.
pub(super) fn build_message(
    rpc: &Rpc,
    bindings: Vec<Binding>,
    query: Option<&str>,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<DynamicMessage, Vec<Violation>> {
    let input = rpc.method.input();
    let mut message = DynamicMessage::new(input.clone());
    let mut violations = Vec::new();
    match &rpc.body {
        BodyRule::None => {}
        BodyRule::Whole => {
            if !body.iter().all(u8::is_ascii_whitespace) {
                message = parse_json_body(&input, &body)?;
            }
        }
        BodyRule::Field(field) => set_body_field(&mut message, field, content_type, body)?,
    }
    if !matches!(rpc.body, BodyRule::Whole)
        && let Some(query) = query
    {
        let body_field = match &rpc.body {
            BodyRule::Field(f) => Some(f.number()),
            _ => None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            if violations.len() >= MAX_VIOLATIONS {
                break;
            }
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let key = form_decode(key);
            let raw = form_decode(raw);
            let path = match resolve_field_path(&input, &key) {
                Ok(path) if path.first().map(|f| f.number()) != body_field => path,
                _ => {
                    violations.push(violation(key, "unknown query parameter"));
                    continue;
                }
            };
            if let Err(v) = set_from_text(&mut message, &path, &raw) {
                violations.push(v);
            }
        }
    }
    for binding in bindings {
        if let Err(v) = set_from_text(&mut message, &binding.field_path, &binding.value) {
            violations.push(v);
        }
    }
    violations.truncate(MAX_VIOLATIONS);
    if violations.is_empty() { Ok(message) } else { Err(violations) }
}

/// The lowerCamelCase JSON path of a field path, for violations.
fn json_path(path: &[FieldDescriptor]) -> String {
    path.iter().map(|f| f.json_name()).collect::<Vec<_>>().join(".")
}

/// Sets a (possibly nested, possibly repeated) field from path or query text.
fn set_from_text(message: &mut DynamicMessage, path: &[FieldDescriptor], raw: &str) -> Result<(), Violation> {
    let Some((last, parents)) = path.split_last() else { return Ok(()) };
    let value = parse_text(last, raw).map_err(|d| violation(json_path(path), d))?;
    let mut target = message;
    for parent in parents {
        target = match target.get_field_mut(parent).as_message_mut() {
            Some(m) => m,
            None => return Err(violation(json_path(path), "not a message field")),
        };
    }
    if last.is_list() {
        if let Some(list) = target.get_field_mut(last).as_list_mut() {
            list.push(value);
        }
    } else {
        target.set_field(last, value);
    }
    Ok(())
}

/// Parses one path or query value by the field's type: int64 as a decimal string, enums by
/// name (or number), bools as true/false, well-known message types from their JSON text.
fn parse_text(field: &FieldDescriptor, raw: &str) -> Result<Value, String> {
    fn number<T: FromStr>(raw: &str, what: &str) -> Result<T, String> {
        raw.trim().parse().map_err(|_| format!("must be {what}"))
    }
    Ok(match field.kind() {
        Kind::Double => Value::F64(number(raw, "a number")?),
        Kind::Float => Value::F32(number(raw, "a number")?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(number(raw, "a 32-bit integer")?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(number(raw, "a 64-bit integer")?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(number(raw, "an unsigned 32-bit integer")?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(number(raw, "an unsigned 64-bit integer")?),
        Kind::Bool => match raw {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err("must be true or false".into()),
        },
        Kind::String => Value::String(raw.to_string()),
        Kind::Bytes => {
            use base64::Engine;
            use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
            let bytes = STANDARD
                .decode(raw)
                .or_else(|_| URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')))
                .map_err(|_| "must be base64".to_string())?;
            Value::Bytes(bytes.into())
        }
        Kind::Enum(e) => {
            let by_name = e.get_value_by_name(raw).map(|v| v.number());
            let by_number = raw.parse::<i32>().ok().filter(|n| e.get_value(*n).is_some());
            let number = by_name.or(by_number).ok_or_else(|| {
                let names: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
                format!("must be one of {}", names.join(", "))
            })?;
            Value::EnumNumber(number)
        }
        Kind::Message(m) => {
            // Timestamps, durations and wrappers have a JSON text form; a bare word is read
            // as a JSON string.
            let json = serde_json::from_str::<serde_json::Value>(raw)
                .unwrap_or_else(|_| serde_json::Value::String(raw.to_string()));
            let message = DynamicMessage::deserialize(m.clone(), json)
                .map_err(|e| format!("must be a {}: {}", m.full_name(), strip_position(&e.to_string())))?;
            Value::Message(message)
        }
    })
}

/// `body: "<field>"`: raw bytes into an HttpBody field, otherwise that field's JSON.
fn set_body_field(
    message: &mut DynamicMessage,
    field: &FieldDescriptor,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<(), Vec<Violation>> {
    if let Kind::Message(m) = field.kind()
        && m.full_name() == HTTP_BODY
        && !field.is_list()
    {
        let mut http_body = DynamicMessage::new(m.clone());
        http_body.set_field_by_name("content_type", Value::String(content_type.unwrap_or_default().into()));
        http_body.set_field_by_name("data", Value::Bytes(body));
        message.set_field(field, Value::Message(http_body));
        return Ok(());
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if body.len() > DIAGNOSE_MAX_BYTES
        && let Kind::Message(m) = field.kind()
        && !field.is_list()
        && !field.is_map()
    {
        // Large: decoded straight into the field's message, never held as a JSON value.
        let value = parse_json_body(&m, &body)?;
        message.set_field(field, Value::Message(value));
        return Ok(());
    }
    // Parsed to a value first so the body cannot smuggle in sibling fields.
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| vec![violation(field.json_name(), format!("malformed JSON: {e}"))])?;
    let mut wrapper = serde_json::Map::new();
    wrapper.insert(field.json_name().to_string(), value);
    let parsed = parse_json_value(&message.descriptor(), serde_json::Value::Object(wrapper))?;
    message.set_field(field, parsed.get_field(field).into_owned());
    Ok(())
}

fn deserialize_options() -> DeserializeOptions {
    DeserializeOptions::new().deny_unknown_fields(true)
}

/// The whole body as the request message; on failure, says which field is wrong.
fn parse_json_body(input: &MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, Vec<Violation>> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match DynamicMessage::deserialize_with_options(input.clone(), &mut deserializer, &deserialize_options())
        .and_then(|m| deserializer.end().map(|()| m))
    {
        Ok(message) => Ok(message),
        Err(e) if body.len() > DIAGNOSE_MAX_BYTES => Err(vec![first_problem(&e.to_string())]),
        Err(_) => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| vec![violation("body", format!("malformed JSON: {e}"))])?;
            parse_json_value(input, value)
        }
    }
}

/// The violation of a streaming decode error (a large body is not parsed a second time):
/// the unknown field it names, or the body.
pub(super) fn first_problem(error: &str) -> Violation {
    let error = strip_position(error);
    // prost-reflect's wording: "unrecognized field name 'x'".
    match error.strip_prefix("unrecognized field name '").and_then(|rest| rest.strip_suffix('\'')) {
        Some(field) => violation(field, "unknown field"),
        None => violation("body", error),
    }
}

fn parse_json_value(
    input: &MessageDescriptor,
    value: serde_json::Value,
) -> Result<DynamicMessage, Vec<Violation>> {
    match DynamicMessage::deserialize_with_options(input.clone(), &value, &deserialize_options()) {
        Ok(message) => Ok(message),
        Err(e) => {
            let mut found = Vec::new();
            diagnose(input, &value, "", &mut found);
            if found.is_empty() {
                found.push(violation("body", strip_position(&e.to_string())));
            }
            found.truncate(MAX_VIOLATIONS);
            Err(found)
        }
    }
}

/// Finds the fields of a JSON object that do not fit the message, recursing into nested
/// messages and lists of messages so the violation names the deepest path
/// (`times[1].startMinute`).
fn diagnose(desc: &MessageDescriptor, value: &serde_json::Value, prefix: &str, out: &mut Vec<Violation>) {
    let serde_json::Value::Object(object) = value else {
        let field = if prefix.is_empty() { "body" } else { prefix };
        out.push(violation(field, "must be a JSON object"));
        return;
    };
    for (key, item) in object {
        if out.len() >= MAX_VIOLATIONS {
            return;
        }
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let Some(field) = desc.get_field_by_json_name(key).or_else(|| desc.get_field_by_name(key)) else {
            out.push(violation(path, "unknown field"));
            continue;
        };
        let nested = match field.kind() {
            Kind::Message(m) if !field.is_map() && !m.full_name().starts_with("google.protobuf.") => Some(m),
            _ => None,
        };
        match (nested, item) {
            (Some(m), serde_json::Value::Object(_)) if !field.is_list() => diagnose(&m, item, &path, out),
            (Some(m), serde_json::Value::Array(items)) if field.is_list() => {
                for (i, element) in items.iter().enumerate().take(MAX_VIOLATIONS) {
                    diagnose(&m, element, &format!("{path}[{i}]"), out);
                }
            }
            _ => {
                let mut single = serde_json::Map::new();
                single.insert(key.clone(), item.clone());
                let single = serde_json::Value::Object(single);
                if let Err(e) =
                    DynamicMessage::deserialize_with_options(desc.clone(), &single, &deserialize_options())
                {
                    out.push(violation(path, strip_position(&e.to_string())));
                }
            }
        }
    }
}

/// serde_json appends " at line 1 column 9", which means nothing to an API client.
fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn form_decode(text: &str) -> String {
    crate::routes::percent_decode(&text.replace('+', " "))
}
