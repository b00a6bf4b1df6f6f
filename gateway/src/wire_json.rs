//! Proto3 JSON written straight from protobuf wire bytes.
//!
//! The answers of the HTTP/JSON routes are rendered without decoding them into a
//! `prost_reflect::DynamicMessage` first. Every answer type gets a plan up front (its fields
//! by number, each with its JSON key already quoted and its enum names already spelled), and
//! the bytes are walked once, straight into the output.
//!
//! The text is the one prost-reflect writes with `skip_default_fields(false)`, which the
//! tests check against prost-reflect itself:
//! - fields in number order;
//! - fields without presence written even at their default;
//! - 64-bit integers as strings, enums by name, bytes in base64;
//! - a Timestamp in RFC 3339.
//!
//! The wire rules are protobuf's: the last value of a scalar wins, the occurrences of a
//! message field merge, packed and unpacked repeated fields both read, the last member of a
//! oneof set wins, and unknown fields are skipped. The other well-known types (Any, Struct,
//! Duration, the wrappers…) are handed to prost-reflect, field by field.

use std::collections::HashMap;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, SerializeOptions};

/// Options for the parts handed to prost-reflect; the same output as the plans.
pub(crate) fn serialize_options() -> SerializeOptions {
    // Defaults are written out (`likeCount: 0`, `nextPageToken: ""`) so clients need not
    // know proto3's omission rule; unset message fields stay absent.
    SerializeOptions::new().skip_default_fields(false)
}

/// Bytes that are not a valid encoding of the message they should be.
#[derive(Debug, thiserror::Error)]
#[error("malformed {0}")]
pub(crate) struct WireError(&'static str);

/// Deeper nesting than this is refused, as prost refuses it.
const MAX_DEPTH: usize = 100;

/// The JSON plans of a set of message types and of every type they reach.
#[derive(Debug, Default)]
pub(crate) struct JsonWriter {
    plans: Vec<Plan>,
    enums: Vec<EnumNames>,
    by_name: HashMap<String, usize>,
}

#[derive(Debug)]
enum Plan {
    /// An ordinary message: its fields by number.
    Fields {
        fields: Vec<Field>,
        oneofs: usize,
    },
    Timestamp,
    /// A well-known type with its own JSON form, left to prost-reflect.
    Reflect(MessageDescriptor),
}

#[derive(Debug)]
struct Field {
    number: u32,
    /// `"likeCount":`.
    key: Box<str>,
    shape: Shape,
    /// Written only when set (messages, oneof members, proto3 `optional`).
    presence: bool,
    /// The oneof of this message the field belongs to, if any.
    oneof: Option<usize>,
}

#[derive(Debug)]
enum Shape {
    Single(Type),
    Repeated(Type),
    Map { key: Type, value: Type },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    /// Index into `JsonWriter::enums`.
    Enum(usize),
    /// Index into `JsonWriter::plans`.
    Message(usize),
}

#[derive(Debug)]
struct EnumNames {
    /// `google.protobuf.NullValue` is written as `null`.
    null: bool,
    /// `(number, "\"NAME\"")`, sorted by number.
    names: Vec<(i32, Box<str>)>,
}

impl JsonWriter {
    /// Plans `roots` and every message type reachable from them.
    pub(crate) fn new(roots: impl IntoIterator<Item = MessageDescriptor>) -> Self {
        let mut writer = Self::default();
        for root in roots {
            writer.plan(&root);
        }
        writer
    }

    fn plan(&mut self, message: &MessageDescriptor) -> usize {
        if let Some(&index) = self.by_name.get(message.full_name()) {
            return index;
        }
        let index = self.plans.len();
        self.by_name.insert(message.full_name().to_string(), index);
        match message.full_name() {
            "google.protobuf.Timestamp" => {
                self.plans.push(Plan::Timestamp);
                return index;
            }
            name if has_own_json_form(name) => {
                self.plans.push(Plan::Reflect(message.clone()));
                return index;
            }
            _ => {}
        }
        // A placeholder first, so a message that contains itself finds its own index.
        self.plans.push(Plan::Fields { fields: Vec::new(), oneofs: 0 });

        let oneofs: Vec<_> = message.oneofs().collect();
        let mut fields = Vec::new();
        for field in message.fields() {
            let oneof = field
                .containing_oneof()
                .and_then(|oneof| oneofs.iter().position(|o| o.full_name() == oneof.full_name()));
            let shape = if field.is_map() {
                let Kind::Message(entry) = field.kind() else { unreachable!("a map field is a message") };
                let key = self.value_type(&entry.map_entry_key_field().kind());
                let value = self.value_type(&entry.map_entry_value_field().kind());
                Shape::Map { key, value }
            } else if field.is_list() {
                Shape::Repeated(self.value_type(&field.kind()))
            } else {
                Shape::Single(self.value_type(&field.kind()))
            };
            let quoted = serde_json::to_string(field.json_name()).unwrap_or_default();
            fields.push(Field {
                number: field.number(),
                key: format!("{quoted}:").into(),
                shape,
                presence: field.supports_presence(),
                oneof,
            });
        }
        fields.sort_by_key(|field| field.number);
        self.plans[index] = Plan::Fields { fields, oneofs: oneofs.len() };
        index
    }

    fn value_type(&mut self, kind: &Kind) -> Type {
        match kind {
            Kind::Double => Type::Double,
            Kind::Float => Type::Float,
            Kind::Int32 => Type::Int32,
            Kind::Int64 => Type::Int64,
            Kind::Uint32 => Type::Uint32,
            Kind::Uint64 => Type::Uint64,
            Kind::Sint32 => Type::Sint32,
            Kind::Sint64 => Type::Sint64,
            Kind::Fixed32 => Type::Fixed32,
            Kind::Fixed64 => Type::Fixed64,
            Kind::Sfixed32 => Type::Sfixed32,
            Kind::Sfixed64 => Type::Sfixed64,
            Kind::Bool => Type::Bool,
            Kind::String => Type::String,
            Kind::Bytes => Type::Bytes,
            Kind::Message(message) => Type::Message(self.plan(message)),
            Kind::Enum(descriptor) => {
                let mut names: Vec<(i32, Box<str>)> = descriptor
                    .values()
                    .map(|value| {
                        (value.number(), serde_json::to_string(value.name()).unwrap_or_default().into())
                    })
                    .collect();
                names.sort_by_key(|(number, _)| *number);
                // Aliases share a number; the first declared name is the one written.
                names.dedup_by_key(|(number, _)| *number);
                let null = descriptor.full_name() == "google.protobuf.NullValue";
                self.enums.push(EnumNames { null, names });
                Type::Enum(self.enums.len() - 1)
            }
        }
    }

    /// The JSON text of `wire`, an encoded `message`. `None` when `message` was not planned.
    pub(crate) fn write(
        &self,
        message: &MessageDescriptor,
        wire: &[u8],
    ) -> Option<Result<Vec<u8>, WireError>> {
        let &plan = self.by_name.get(message.full_name())?;
        let mut out = Vec::with_capacity(wire.len() * 2 + 16);
        Some(self.message(&mut out, plan, &[wire], 0).map(|()| out))
    }

    /// Writes the message made of `segments` (protobuf merges concatenated encodings).
    fn message(
        &self,
        out: &mut Vec<u8>,
        plan: usize,
        segments: &[&[u8]],
        depth: usize,
    ) -> Result<(), WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError("message: nested too deeply"));
        }
        let (fields, oneofs) = match &self.plans[plan] {
            Plan::Fields { fields, oneofs } => (fields, *oneofs),
            Plan::Timestamp => return timestamp(out, segments),
            Plan::Reflect(descriptor) => return reflect(out, descriptor, segments),
        };

        // Every known field occurrence, in wire order.
        let mut seen: Vec<Occurrence<'_>> = Vec::new();
        // Per oneof: the member set last, and the position from which its run began.
        let mut oneof_runs: Vec<Option<(usize, usize)>> = vec![None; oneofs];
        for segment in segments {
            let mut reader = Reader(segment);
            while let Some((number, value)) = reader.field()? {
                let Ok(field) = fields.binary_search_by_key(&number, |f| f.number) else { continue };
                if let Some(oneof) = fields[field].oneof {
                    match oneof_runs[oneof] {
                        Some((member, _)) if member == field => {}
                        _ => oneof_runs[oneof] = Some((field, seen.len())),
                    }
                }
                seen.push(Occurrence { field, position: seen.len(), value });
            }
        }
        // Grouped by field, in wire order within a field (the sort is stable).
        seen.sort_by_key(|occurrence| occurrence.field);

        out.push(b'{');
        let mut first = true;
        let mut rest = &seen[..];
        for (index, field) in fields.iter().enumerate() {
            let count = rest.iter().take_while(|occurrence| occurrence.field == index).count();
            let (mut mine, tail) = rest.split_at(count);
            rest = tail;
            if let Some(oneof) = field.oneof {
                // Only the member set last counts, and only from its last run on.
                match oneof_runs[oneof] {
                    Some((member, since)) if member == index => {
                        mine = &mine[mine.iter().position(|o| o.position >= since).unwrap_or(0)..];
                    }
                    _ => continue,
                }
            }
            if mine.is_empty() && field.presence {
                continue;
            }
            comma(out, &mut first);
            out.extend_from_slice(field.key.as_bytes());
            let values = mine.iter().map(|occurrence| occurrence.value);
            self.field(out, &field.shape, values, depth)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// The value of one field, from its occurrences in wire order.
    fn field<'a>(
        &self,
        out: &mut Vec<u8>,
        shape: &Shape,
        mut values: impl DoubleEndedIterator<Item = Value<'a>>,
        depth: usize,
    ) -> Result<(), WireError> {
        match *shape {
            Shape::Single(Type::Message(nested)) => {
                let segments = values.map(Value::bytes).collect::<Result<Vec<_>, _>>()?;
                self.message(out, nested, &segments, depth + 1)
            }
            Shape::Single(kind) => self.scalar(out, kind, values.next_back().unwrap_or(kind.default())),
            Shape::Repeated(kind) => {
                out.push(b'[');
                let mut first = true;
                for value in values {
                    match (kind, value) {
                        (kind, Value::Bytes(packed)) if kind.packable() => {
                            let mut reader = Reader(packed);
                            while !reader.0.is_empty() {
                                let value = reader.value(kind.wire_type())?;
                                comma(out, &mut first);
                                self.scalar(out, kind, value)?;
                            }
                        }
                        (Type::Message(nested), value) => {
                            comma(out, &mut first);
                            self.message(out, nested, &[value.bytes()?], depth + 1)?;
                        }
                        (kind, value) => {
                            comma(out, &mut first);
                            self.scalar(out, kind, value)?;
                        }
                    }
                }
                out.push(b']');
                Ok(())
            }
            Shape::Map { key, value } => self.map(out, key, value, values, depth),
        }
    }

    /// A map field: its entries (a key at 1, a value at 2) as one object; a repeated key
    /// keeps its last value.
    fn map<'a>(
        &self,
        out: &mut Vec<u8>,
        key_type: Type,
        value_type: Type,
        entries: impl Iterator<Item = Value<'a>>,
        depth: usize,
    ) -> Result<(), WireError> {
        let mut written: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for entry in entries {
            let mut key = key_type.default();
            let mut value = value_type.default();
            let mut value_segments = Vec::new();
            let mut reader = Reader(entry.bytes()?);
            while let Some((number, field)) = reader.field()? {
                match number {
                    1 => key = field,
                    2 if matches!(value_type, Type::Message(_)) => value_segments.push(field.bytes()?),
                    2 => value = field,
                    _ => {}
                }
            }
            let mut key_json = Vec::new();
            self.map_key(&mut key_json, key_type, key)?;
            let mut value_json = Vec::new();
            match value_type {
                Type::Message(nested) => self.message(&mut value_json, nested, &value_segments, depth + 1)?,
                _ => self.scalar(&mut value_json, value_type, value)?,
            }
            match written.iter_mut().find(|(key, _)| *key == key_json) {
                Some(entry) => entry.1 = value_json,
                None => written.push((key_json, value_json)),
            }
        }
        out.push(b'{');
        let mut first = true;
        for (key, value) in written {
            comma(out, &mut first);
            out.extend_from_slice(&key);
            out.push(b':');
            out.extend_from_slice(&value);
        }
        out.push(b'}');
        Ok(())
    }

    /// A map key is always a JSON string.
    fn map_key(&self, out: &mut Vec<u8>, kind: Type, value: Value<'_>) -> Result<(), WireError> {
        if kind == Type::String {
            return self.scalar(out, kind, value);
        }
        let mut text = Vec::new();
        self.scalar(&mut text, kind, value)?;
        let unquoted = text.strip_prefix(b"\"").and_then(|t| t.strip_suffix(b"\"")).unwrap_or(&text);
        out.push(b'"');
        out.extend_from_slice(unquoted);
        out.push(b'"');
        Ok(())
    }

    /// One non-message value.
    fn scalar(&self, out: &mut Vec<u8>, kind: Type, value: Value<'_>) -> Result<(), WireError> {
        match (kind, value) {
            (Type::Int32, Value::Varint(n)) => number(out, n as i32),
            (Type::Uint32, Value::Varint(n)) => number(out, n as u32),
            (Type::Sint32, Value::Varint(n)) => number(out, zigzag(n) as i32),
            (Type::Int64, Value::Varint(n)) => quoted(out, n as i64),
            (Type::Uint64, Value::Varint(n)) => quoted(out, n),
            (Type::Sint64, Value::Varint(n)) => quoted(out, zigzag(n)),
            (Type::Bool, Value::Varint(n)) => out.extend_from_slice(if n != 0 { b"true" } else { b"false" }),
            (Type::Enum(names), Value::Varint(n)) => self.enum_value(out, names, n as i32),
            (Type::Fixed32, Value::Fixed32(n)) => number(out, n),
            (Type::Sfixed32, Value::Fixed32(n)) => number(out, n as i32),
            (Type::Float, Value::Fixed32(n)) => float(out, f64::from(f32::from_bits(n)), f32::from_bits(n)),
            (Type::Fixed64, Value::Fixed64(n)) => quoted(out, n),
            (Type::Sfixed64, Value::Fixed64(n)) => quoted(out, n as i64),
            (Type::Double, Value::Fixed64(n)) => float(out, f64::from_bits(n), f64::from_bits(n)),
            (Type::String, Value::Bytes(bytes)) => {
                let text = std::str::from_utf8(bytes).map_err(|_| WireError("string: not UTF-8"))?;
                serde_json::to_writer(&mut *out, text).map_err(|_| WireError("string"))?;
            }
            (Type::Bytes, Value::Bytes(bytes)) => {
                out.push(b'"');
                let start = out.len();
                out.resize(start + bytes.len().div_ceil(3) * 4, 0);
                let written =
                    BASE64_STANDARD.encode_slice(bytes, &mut out[start..]).map_err(|_| WireError("bytes"))?;
                out.truncate(start + written);
                out.push(b'"');
            }
            _ => return Err(WireError("field: wrong wire type")),
        }
        Ok(())
    }

    fn enum_value(&self, out: &mut Vec<u8>, names: usize, number: i32) {
        let names = &self.enums[names];
        if names.null {
            out.extend_from_slice(b"null");
            return;
        }
        match names.names.binary_search_by_key(&number, |(n, _)| *n) {
            Ok(found) => out.extend_from_slice(names.names[found].1.as_bytes()),
            Err(_) => self::number(out, number),
        }
    }
}

/// Well-known types whose JSON form is not an object of their fields (Timestamp aside).
fn has_own_json_form(full_name: &str) -> bool {
    let Some(name) = full_name.strip_prefix("google.protobuf.") else { return false };
    matches!(
        name,
        "Any"
            | "Duration"
            | "Struct"
            | "Value"
            | "ListValue"
            | "FieldMask"
            | "DoubleValue"
            | "FloatValue"
            | "Int64Value"
            | "UInt64Value"
            | "Int32Value"
            | "UInt32Value"
            | "BoolValue"
            | "StringValue"
            | "BytesValue"
    )
}

fn comma(out: &mut Vec<u8>, first: &mut bool) {
    if !std::mem::take(first) {
        out.push(b',');
    }
}

fn number<T: serde::Serialize>(out: &mut Vec<u8>, n: T) {
    // Writing a number into a Vec cannot fail.
    let _ = serde_json::to_writer(out, &n);
}

/// A 64-bit integer as a JSON string, as proto3 JSON writes them.
fn quoted<T: serde::Serialize>(out: &mut Vec<u8>, n: T) {
    out.push(b'"');
    number(out, n);
    out.push(b'"');
}

/// A finite float as a JSON number (`serde_json`'s shortest form for its width); the others
/// as the strings proto3 JSON names them.
fn float<T: serde::Serialize>(out: &mut Vec<u8>, wide: f64, value: T) {
    if wide.is_finite() {
        number(out, value);
    } else if wide.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if wide > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

fn zigzag(n: u64) -> i64 {
    (n >> 1) as i64 ^ -((n & 1) as i64)
}

/// `google.protobuf.Timestamp` as RFC 3339, within the years 1 to 9999.
fn timestamp(out: &mut Vec<u8>, segments: &[&[u8]]) -> Result<(), WireError> {
    const MIN_SECONDS: i64 = -62_135_596_800;
    const MAX_SECONDS: i64 = 253_402_300_799;
    let mut time = prost_types::Timestamp::default();
    for segment in segments {
        let mut reader = Reader(segment);
        while let Some((number, value)) = reader.field()? {
            match (number, value) {
                (1, Value::Varint(seconds)) => time.seconds = seconds as i64,
                (2, Value::Varint(nanos)) => time.nanos = nanos as i32,
                (1 | 2, _) => return Err(WireError("timestamp")),
                _ => {}
            }
        }
    }
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&time.seconds) {
        return Err(WireError("timestamp: out of range"));
    }
    use std::io::Write as _;
    let _ = write!(out, "\"{time}\"");
    Ok(())
}

/// The message made of `segments` through prost-reflect: the well-known types with their
/// own JSON form, and whatever the plans cannot read.
pub(crate) fn reflect(
    out: &mut Vec<u8>,
    descriptor: &MessageDescriptor,
    segments: &[&[u8]],
) -> Result<(), WireError> {
    let wire = segments.concat();
    let message =
        DynamicMessage::decode(descriptor.clone(), wire.as_slice()).map_err(|_| WireError("message"))?;
    let mut serializer = serde_json::Serializer::new(out);
    message
        .serialize_with_options(&mut serializer, &serialize_options())
        .map_err(|_| WireError("well-known type"))
}

impl Type {
    fn wire_type(self) -> WireType {
        match self {
            Type::Double | Type::Fixed64 | Type::Sfixed64 => WireType::Fixed64,
            Type::Float | Type::Fixed32 | Type::Sfixed32 => WireType::Fixed32,
            Type::String | Type::Bytes | Type::Message(_) => WireType::Len,
            _ => WireType::Varint,
        }
    }

    /// The value of an absent field: zero bits, on this type's wire.
    fn default(self) -> Value<'static> {
        match self.wire_type() {
            WireType::Varint => Value::Varint(0),
            WireType::Fixed64 => Value::Fixed64(0),
            WireType::Fixed32 => Value::Fixed32(0),
            WireType::Len => Value::Bytes(&[]),
        }
    }

    /// Numbers, bools and enums may arrive packed in one length-delimited run.
    fn packable(self) -> bool {
        self.wire_type() != WireType::Len
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

impl<'a> Value<'a> {
    fn bytes(self) -> Result<&'a [u8], WireError> {
        match self {
            Value::Bytes(bytes) => Ok(bytes),
            _ => Err(WireError("message: wrong wire type")),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Occurrence<'a> {
    /// Index into the message's fields.
    field: usize,
    /// Index among the message's field occurrences, in wire order.
    position: usize,
    value: Value<'a>,
}

/// Reads protobuf fields off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next field's number and value; `None` at the end.
    fn field(&mut self) -> Result<Option<(u32, Value<'a>)>, WireError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).ok().filter(|&n| n > 0).ok_or(WireError("field number"))?;
        let wire_type = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            _ => return Err(WireError("wire type (groups are not read)")),
        };
        Ok(Some((number, self.value(wire_type)?)))
    }

    fn value(&mut self, wire_type: WireType) -> Result<Value<'a>, WireError> {
        Ok(match wire_type {
            WireType::Varint => Value::Varint(self.varint()?),
            WireType::Fixed64 => {
                Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default()))
            }
            WireType::Fixed32 => {
                Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default()))
            }
            WireType::Len => {
                let len = usize::try_from(self.varint()?).map_err(|_| WireError("length"))?;
                Value::Bytes(self.take(len)?)
            }
        })
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.0 = &self.0[i + 1..];
                return Ok(value);
            }
        }
        Err(WireError("varint"))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < len {
            return Err(WireError("field: truncated"));
        }
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_reflect::{DescriptorPool, MapKey, Value as Field};
    use prost_types::field_descriptor_proto::{Label, Type as Wire};
    use prost_types::{
        DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
        FileDescriptorProto, FileDescriptorSet, MessageOptions, OneofDescriptorProto,
    };

    use super::*;

    /// What prost-reflect writes for the same bytes: the reference.
    fn reference(message: &MessageDescriptor, wire: &[u8]) -> Vec<u8> {
        let decoded = DynamicMessage::decode(message.clone(), wire).unwrap();
        let mut out = Vec::new();
        decoded
            .serialize_with_options(&mut serde_json::Serializer::new(&mut out), &serialize_options())
            .unwrap();
        out
    }

    fn ours(writer: &JsonWriter, message: &MessageDescriptor, wire: &[u8]) -> Vec<u8> {
        writer.write(message, wire).expect("planned").expect("well-formed")
    }

    fn text(json: &[u8]) -> &str {
        std::str::from_utf8(json).unwrap()
    }

    /// A small xorshift generator: the same messages on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn pick<T: Clone>(&mut self, items: &[T]) -> T {
            items[self.below(items.len() as u64) as usize].clone()
        }
    }

    const STRINGS: &[&str] =
        &["", "a", "quote \" backslash \\ newline \n tab \t bell \u{7}", "시간표", "😀 </script>"];

    /// A message with every field either unset or random; at most one entry per map, so
    /// the reference's map order cannot differ from ours.
    fn random_message(message: &MessageDescriptor, rng: &mut Rng, depth: usize) -> DynamicMessage {
        let mut out = DynamicMessage::new(message.clone());
        if message.full_name() == "google.protobuf.Timestamp" {
            out.set_field_by_name(
                "seconds",
                Field::I64(rng.below(253_402_300_799) as i64 - 62_135_596_800 / 2),
            );
            out.set_field_by_name(
                "nanos",
                Field::I32(rng.pick(&[0, 1, 500_000_000, 999_999_999, 123_456_000])),
            );
            return out;
        }
        for field in message.fields() {
            if rng.below(3) == 0 {
                continue;
            }
            let kind = field.kind();
            if field.is_map() {
                let Kind::Message(entry) = kind else { unreachable!() };
                let key = match random_value(&entry.map_entry_key_field().kind(), rng, depth) {
                    Field::Bool(b) => MapKey::Bool(b),
                    Field::I32(n) => MapKey::I32(n),
                    Field::I64(n) => MapKey::I64(n),
                    Field::U32(n) => MapKey::U32(n),
                    Field::U64(n) => MapKey::U64(n),
                    Field::String(s) => MapKey::String(s),
                    other => panic!("not a map key: {other:?}"),
                };
                let mut map = HashMap::new();
                if rng.below(2) == 0 {
                    map.insert(key, random_value(&entry.map_entry_value_field().kind(), rng, depth));
                }
                out.set_field(&field, Field::Map(map));
            } else if field.is_list() {
                let list = (0..rng.below(4)).map(|_| random_value(&kind, rng, depth)).collect();
                out.set_field(&field, Field::List(list));
            } else {
                out.set_field(&field, random_value(&kind, rng, depth));
            }
        }
        out
    }

    fn random_value(kind: &Kind, rng: &mut Rng, depth: usize) -> Field {
        let int = |rng: &mut Rng| {
            let random = rng.next() as i64;
            rng.pick(&[0, 1, -1, 127, 128, 300, i64::MAX, i64::MIN, random])
        };
        match kind {
            Kind::Double => {
                Field::F64(rng.pick(&[0.0, -0.0, 1.5, 1e300, 1e-7, f64::NAN, f64::INFINITY, -f64::INFINITY]))
            }
            Kind::Float => Field::F32(rng.pick(&[0.0, 0.1, -2.5, 3.4e38, f32::NAN, f32::NEG_INFINITY, 1e-3])),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Field::I32(int(rng) as i32),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Field::I64(int(rng)),
            Kind::Uint32 | Kind::Fixed32 => Field::U32(int(rng) as u32),
            Kind::Uint64 | Kind::Fixed64 => Field::U64(int(rng) as u64),
            Kind::Bool => Field::Bool(rng.below(2) == 1),
            Kind::String => Field::String(rng.pick(STRINGS).to_string()),
            Kind::Bytes => {
                Field::Bytes((0..rng.below(7)).map(|_| rng.next() as u8).collect::<Vec<_>>().into())
            }
            Kind::Enum(descriptor) => {
                let mut numbers: Vec<i32> = descriptor.values().map(|v| v.number()).collect();
                numbers.push(99);
                Field::EnumNumber(rng.pick(&numbers))
            }
            Kind::Message(message) if depth >= 3 => Field::Message(DynamicMessage::new(message.clone())),
            Kind::Message(message) => Field::Message(random_message(message, rng, depth + 1)),
        }
    }

    fn campus_pool() -> DescriptorPool {
        DescriptorPool::decode(campus_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    /// Every answer of every HTTP route, 60 random messages each, byte for byte.
    #[test]
    fn every_route_answer_reads_as_prost_reflect_writes_it() {
        let table = crate::routes::RouteTable::from_pool(&campus_pool()).unwrap();
        let writer = JsonWriter::new(table.outputs());
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut checked = 0;
        for output in table.outputs() {
            // HttpBody answers go out raw; its Any extensions need registered types.
            if output.full_name() == "google.api.HttpBody" {
                continue;
            }
            for _ in 0..60 {
                let wire = random_message(&output, &mut rng, 0).encode_to_vec();
                assert_eq!(
                    text(&ours(&writer, &output, &wire)),
                    text(&reference(&output, &wire)),
                    "{}",
                    output.full_name()
                );
                checked += 1;
            }
        }
        assert!(checked > 1000, "only {checked} messages");
    }

    /// A proto3 message with every scalar type, singular, repeated and in maps, an enum, a
    /// oneof, an `optional` field, and itself nested.
    fn all_types() -> MessageDescriptor {
        let scalars = [
            ("double", Wire::Double),
            ("float", Wire::Float),
            ("int64", Wire::Int64),
            ("uint64", Wire::Uint64),
            ("int32", Wire::Int32),
            ("fixed64", Wire::Fixed64),
            ("fixed32", Wire::Fixed32),
            ("bool", Wire::Bool),
            ("string", Wire::String),
            ("bytes", Wire::Bytes),
            ("uint32", Wire::Uint32),
            ("sfixed32", Wire::Sfixed32),
            ("sfixed64", Wire::Sfixed64),
            ("sint32", Wire::Sint32),
            ("sint64", Wire::Sint64),
        ];
        let field = |name: &str, number: i32, label: Label, r#type: Wire, type_name: Option<&str>| {
            FieldDescriptorProto {
                name: Some(name.to_string()),
                number: Some(number),
                label: Some(label as i32),
                r#type: Some(r#type as i32),
                type_name: type_name.map(str::to_string),
                ..Default::default()
            }
        };
        let mut fields = Vec::new();
        for (i, (name, r#type)) in scalars.iter().enumerate() {
            fields.push(field(&format!("s_{name}"), i as i32 + 1, Label::Optional, *r#type, None));
            fields.push(field(&format!("r_{name}"), i as i32 + 101, Label::Repeated, *r#type, None));
        }
        let all = Some(".test.AllTypes");
        let color = Some(".test.Color");
        fields.push(field("color", 50, Label::Optional, Wire::Enum, color));
        fields.push(field("colors", 51, Label::Repeated, Wire::Enum, color));
        fields.push(field("child", 52, Label::Optional, Wire::Message, all));
        fields.push(field("children", 53, Label::Repeated, Wire::Message, all));
        fields.push(field("by_name", 54, Label::Repeated, Wire::Message, Some(".test.AllTypes.ByNameEntry")));
        fields.push(field(
            "colors_by_id",
            55,
            Label::Repeated,
            Wire::Message,
            Some(".test.AllTypes.ColorsByIdEntry"),
        ));
        fields.push(FieldDescriptorProto {
            oneof_index: Some(0),
            ..field("o_string", 60, Label::Optional, Wire::String, None)
        });
        fields.push(FieldDescriptorProto {
            oneof_index: Some(0),
            ..field("o_child", 61, Label::Optional, Wire::Message, all)
        });
        fields.push(FieldDescriptorProto {
            oneof_index: Some(1),
            proto3_optional: Some(true),
            ..field("maybe", 62, Label::Optional, Wire::Int32, None)
        });
        let entry = |name: &str, key: Wire, value: Wire, type_name: Option<&str>| DescriptorProto {
            name: Some(name.to_string()),
            field: vec![
                field("key", 1, Label::Optional, key, None),
                field("value", 2, Label::Optional, value, type_name),
            ],
            options: Some(MessageOptions { map_entry: Some(true), ..Default::default() }),
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("test.proto".to_string()),
            package: Some("test".to_string()),
            syntax: Some("proto3".to_string()),
            message_type: vec![DescriptorProto {
                name: Some("AllTypes".to_string()),
                field: fields,
                nested_type: vec![
                    entry("ByNameEntry", Wire::String, Wire::Message, all),
                    entry("ColorsByIdEntry", Wire::Sint64, Wire::Enum, color),
                ],
                oneof_decl: vec![
                    OneofDescriptorProto { name: Some("choice".to_string()), ..Default::default() },
                    OneofDescriptorProto { name: Some("_maybe".to_string()), ..Default::default() },
                ],
                ..Default::default()
            }],
            enum_type: vec![EnumDescriptorProto {
                name: Some("Color".to_string()),
                value: ["COLOR_UNSPECIFIED", "RED", "GREEN"]
                    .iter()
                    .enumerate()
                    .map(|(number, name)| EnumValueDescriptorProto {
                        name: Some(name.to_string()),
                        number: Some(number as i32),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let pool = DescriptorPool::from_file_descriptor_set(FileDescriptorSet { file: vec![file] }).unwrap();
        pool.get_message_by_name("test.AllTypes").unwrap()
    }

    #[test]
    fn every_scalar_type_reads_as_prost_reflect_writes_it() {
        let message = all_types();
        let writer = JsonWriter::new([message.clone()]);
        let mut rng = Rng(42);
        for _ in 0..500 {
            let wire = random_message(&message, &mut rng, 0).encode_to_vec();
            assert_eq!(text(&ours(&writer, &message, &wire)), text(&reference(&message, &wire)));
        }
        // An empty message: every field without presence at its default, nothing else.
        let empty = text(&ours(&writer, &message, &[])).to_string();
        assert_eq!(empty, text(&reference(&message, &[])));
        assert!(
            empty.starts_with(r#"{"sDouble":0.0,"sFloat":0.0,"sInt64":"0","sUint64":"0","sInt32":0"#),
            "{empty}"
        );
        assert!(
            !empty.contains(r#""child""#) && !empty.contains("maybe") && !empty.contains("oString"),
            "{empty}"
        );
    }

    #[test]
    fn maps_with_many_entries_hold_the_same_pairs() {
        let message = all_types();
        let writer = JsonWriter::new([message.clone()]);
        let mut source = DynamicMessage::new(message.clone());
        let colors: HashMap<MapKey, Field> =
            (-3..4).map(|id| (MapKey::I64(id), Field::EnumNumber((id.rem_euclid(4)) as i32))).collect();
        source.set_field_by_name("colors_by_id", Field::Map(colors));
        let wire = source.encode_to_vec();
        let ours: serde_json::Value = serde_json::from_slice(&ours(&writer, &message, &wire)).unwrap();
        let reference: serde_json::Value = serde_json::from_slice(&reference(&message, &wire)).unwrap();
        assert_eq!(ours, reference);
        assert_eq!(ours["colorsById"]["-3"], "RED");
        assert_eq!(ours["colorsById"]["3"], 3, "an unknown enum number stays a number");
    }

    /// Bytes no prost encoder writes, but any protobuf reader must take.
    #[test]
    fn the_wire_rules_are_protobufs() {
        use prost::encoding::{WireType as W, encode_key, encode_varint};
        let message = all_types();
        let writer = JsonWriter::new([message.clone()]);
        let varint = |out: &mut Vec<u8>, number: u32, value: u64| {
            encode_key(number, W::Varint, out);
            encode_varint(value, out);
        };
        let bytes = |out: &mut Vec<u8>, number: u32, value: &[u8]| {
            encode_key(number, W::LengthDelimited, out);
            encode_varint(value.len() as u64, out);
            out.extend_from_slice(value);
        };
        let mut child_a = Vec::new();
        varint(&mut child_a, 5, 7); // s_int32
        bytes(&mut child_a, 9, b"first"); // s_string
        let mut child_b = Vec::new();
        bytes(&mut child_b, 9, b"second");

        let mut wire = Vec::new();
        varint(&mut wire, 5, 1); // s_int32, overwritten below
        bytes(&mut wire, 52, &child_a); // child, merged with the next occurrence
        varint(&mut wire, 999, 5); // unknown varint
        bytes(&mut wire, 998, b"unknown"); // unknown bytes
        encode_key(997, W::ThirtyTwoBit, &mut wire); // unknown fixed32
        wire.extend_from_slice(&[1, 2, 3, 4]);
        varint(&mut wire, 105, 3); // r_int32, unpacked…
        bytes(&mut wire, 105, &[4, 5]); // …then packed
        varint(&mut wire, 105, 6); // …then unpacked again
        bytes(&mut wire, 52, &child_b);
        varint(&mut wire, 5, u64::MAX); // s_int32 = -1, ten bytes on the wire
        bytes(&mut wire, 61, &child_a); // o_child, then o_string, then o_child again:
        bytes(&mut wire, 60, b"dropped"); // only the last run of o_child counts
        bytes(&mut wire, 61, &child_b);
        varint(&mut wire, 51, 2); // a repeated enum, unpacked
        varint(&mut wire, 62, 0); // `optional` set to its default: written

        let json = ours(&writer, &message, &wire);
        assert_eq!(text(&json), text(&reference(&message, &wire)));
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["sInt32"], -1);
        assert_eq!(value["child"]["sInt32"], 7);
        assert_eq!(value["child"]["sString"], "second");
        assert_eq!(value["rInt32"], serde_json::json!([3, 4, 5, 6]));
        assert_eq!(value["oChild"]["sString"], "second");
        assert_eq!(value["oChild"]["sInt32"], 0, "the first o_child run was cleared by o_string");
        assert!(value.get("oString").is_none());
        assert_eq!(value["colors"], serde_json::json!(["GREEN"]));
        assert_eq!(value["maybe"], 0);
    }

    #[test]
    fn malformed_bytes_are_errors() {
        let message = all_types();
        let writer = JsonWriter::new([message.clone()]);
        let malformed: &[&[u8]] = &[
            &[0x08],             // a key without its varint
            &[0x4a, 0x05, b'a'], // s_string longer than what is left
            &[0x4a, 0x01, 0xff], // s_string not UTF-8
            &[0x0b],             // a group
            &[0x00, 0x00],       // field number 0
            &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0x2a, 0x01, 0x01], // s_int32 (varint) arriving length-delimited
        ];
        for wire in malformed {
            assert!(writer.write(&message, wire).unwrap().is_err(), "{wire:?}");
        }
    }

    #[test]
    fn unplanned_types_are_not_guessed() {
        let writer = JsonWriter::new([all_types()]);
        let other = campus_pool().get_message_by_name("google.protobuf.Timestamp").unwrap();
        assert!(writer.write(&other, &[]).is_none());
    }
}
