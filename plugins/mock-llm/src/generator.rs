//! The schema walker: fills every property of a JSON Schema with content chosen by property
//! name and context, switching to script planning for lists of speaker/text lines and to the
//! outline for lists of segments, and reworking an earlier draft when there is one.

use std::rc::Rc;

use serde_json::{Map, Value};

use crate::context::parse_segment;
use crate::draft;
use crate::hash::{child_seed, pick};
use crate::kinds::{
    People, TextKind, is_line_text, is_segment_list, is_speaker_name, number_kind, people_list,
    text_kind,
};
use crate::numbers::{Scale, fit_integer, fit_number, preferred, preferred_bool};
use crate::request::Failure;
use crate::schema::{Schema, Shape, clamp_count, count, count_bounds, properties, required, shape};
use crate::script::{PlannedLine, natural_line_count, plan_script, plan_segment};
use crate::theme::{Place, Segment, Theme};
use crate::words::{char_count, fit_length, name_words};

/// Past this depth only required properties and the fewest items are generated, so a
/// recursive schema still ends.
const SOFT_DEPTH: usize = 12;
/// How often one `$ref` may be expanded inside itself before the value turns minimal, so a
/// tree-shaped schema gets one level of children rather than a combinatorial explosion.
const MAX_REF_NESTING: usize = 1;
/// Past this depth the schema is taken to recurse without end.
const HARD_DEPTH: usize = 64;
/// Attempts at a different value when `uniqueItems` finds a duplicate.
const UNIQUE_RETRIES: usize = 8;
/// Items in a list when neither the schema nor the context suggests a number.
const DEFAULT_ITEMS: usize = 3;

/// Where a value goes: its name, its seed and what it belongs to.
#[derive(Clone)]
struct Slot<'d> {
    words: Vec<String>,
    seed: u64,
    list_seed: u64,
    index: Option<usize>,
    people: Option<People>,
    segment: Option<Rc<Segment>>,
    line: Option<Rc<PlannedLine>>,
    draft: Option<&'d Value>,
    depth: usize,
    /// `$ref`s being expanded around this value, outermost first.
    refs: Vec<String>,
    /// Only required properties and the fewest items from here down.
    minimal: bool,
    top_level: bool,
}

impl<'d> Slot<'d> {
    fn property(&self, name: &str, draft: Option<&'d Value>) -> Self {
        Self {
            words: name_words(name),
            seed: child_seed(self.seed, name),
            draft,
            depth: self.depth + 1,
            top_level: self.depth == 0,
            ..self.clone()
        }
    }

    fn item(&self, index: usize, draft: Option<&'d Value>) -> Self {
        Self {
            seed: child_seed(self.seed, &index.to_string()),
            list_seed: self.seed,
            index: Some(index),
            people: people_list(&self.words).or(self.people),
            draft,
            depth: self.depth + 1,
            top_level: false,
            ..self.clone()
        }
    }

    fn place(&self) -> Place<'_> {
        Place {
            seed: self.seed,
            list_seed: self.list_seed,
            index: self.index,
            people: self.people,
            segment: self.segment.as_deref(),
            top_level: self.top_level,
        }
    }
}

pub struct Generator<'a> {
    schema: Schema<'a>,
    theme: &'a Theme<'a>,
}

impl<'a> Generator<'a> {
    pub fn new(root: &'a Value, theme: &'a Theme<'a>) -> Self {
        Self {
            schema: Schema::new(root),
            theme,
        }
    }

    /// The root schema with references followed, for matching a draft against it.
    pub fn resolve_root(&self) -> Result<Value, Failure> {
        Ok(self.schema.resolve(self.schema.root())?.into_owned())
    }

    /// A document valid against the whole schema, reworking `draft` when given.
    pub fn document(&self, draft: Option<&Value>) -> Result<Value, Failure> {
        let root = Slot {
            words: Vec::new(),
            seed: self.theme.seed,
            list_seed: self.theme.seed,
            index: None,
            people: None,
            segment: None,
            line: None,
            draft,
            depth: 0,
            refs: Vec::new(),
            minimal: false,
            top_level: false,
        };
        self.value(self.schema.root(), &root)
    }

    fn value(&self, schema: &Value, slot: &Slot) -> Result<Value, Failure> {
        if slot.depth > HARD_DEPTH {
            return Err(Failure::invalid(
                "json schema nests too deeply to generate (a `$ref` that always recurses?)",
            ));
        }
        let mut slot = slot.clone();
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let nesting = slot.refs.iter().filter(|seen| *seen == reference).count();
            slot.minimal |= nesting >= MAX_REF_NESTING;
            slot.refs.push(reference.to_string());
        }
        slot.minimal |= slot.depth >= SOFT_DEPTH;
        let slot = &slot;
        let resolved = self.schema.resolve(schema)?;
        let schema = resolved.as_ref();
        if let Some(constant) = schema.get("const") {
            return Ok(constant.clone());
        }
        if let Some(options) = schema.get("enum") {
            return self.choose(options, slot);
        }
        match shape(schema)? {
            Shape::Object => self.object(schema, slot),
            Shape::Array => self.array(schema, slot),
            Shape::String => self.string(schema, slot).map(Value::String),
            Shape::Integer => fit_integer(self.number_wanted(slot), schema),
            Shape::Number => fit_number(self.number_wanted(slot), schema),
            Shape::Boolean => Ok(Value::Bool(
                slot.draft
                    .and_then(Value::as_bool)
                    .unwrap_or_else(|| preferred_bool(&slot.words, slot.seed)),
            )),
            Shape::Null => Ok(Value::Null),
        }
    }

    /// An `enum` member: the draft's, the line's speaker, or one picked by position or seed.
    fn choose(&self, options: &Value, slot: &Slot) -> Result<Value, Failure> {
        let options = options
            .as_array()
            .filter(|options| !options.is_empty())
            .ok_or_else(|| Failure::invalid("json schema `enum` is not a non-empty list"))?;
        if let Some(kept) = slot.draft.filter(|draft| options.contains(draft)) {
            return Ok(kept.clone());
        }
        if let Some(line) = slot.line.as_ref().filter(|_| is_speaker_name(&slot.words)) {
            let name = Value::String(self.theme.speaker(line.speaker).name.clone());
            if options.contains(&name) {
                return Ok(name);
            }
            return Ok(options[line.speaker % options.len()].clone());
        }
        let position = match (slot.people, slot.index) {
            (Some(_), Some(index)) => index % options.len(),
            _ => pick(slot.seed, options.len()),
        };
        Ok(options[position].clone())
    }

    fn object(&self, schema: &Value, slot: &Slot) -> Result<Value, Failure> {
        let required = required(schema);
        let declared = properties(schema);
        let limit = count(schema, "maxProperties").unwrap_or(usize::MAX);
        if required.len() > limit {
            return Err(Failure::invalid(
                "json schema `maxProperties` is smaller than its required properties",
            ));
        }
        let draft = slot.draft.and_then(Value::as_object);
        let is_required = |name: &str| required.contains(&name);
        // Required properties first, so a `maxProperties` limit only drops optional ones.
        let mut ordered: Vec<(&String, &Value)> = declared.clone();
        ordered.sort_by_key(|(name, _)| !is_required(name));
        let mut object = Map::new();
        for (name, property) in ordered {
            if !is_required(name) && (slot.minimal || object.len() >= limit) {
                continue;
            }
            let child = slot.property(name, draft.and_then(|draft| draft.get(name)));
            object.insert(name.clone(), self.value(property, &child)?);
        }
        let anything = Value::Bool(true);
        for name in required {
            if !object.contains_key(name) {
                let child = slot.property(name, draft.and_then(|draft| draft.get(name)));
                object.insert(name.to_string(), self.value(&anything, &child)?);
            }
        }
        let wanted = count(schema, "minProperties").unwrap_or(0);
        if object.len() < wanted {
            let extra = match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    return Err(Failure::invalid(
                        "json schema `minProperties` exceeds the properties it allows",
                    ));
                }
                Some(extra @ Value::Object(_)) => extra,
                _ => &anything,
            };
            for number in 1.. {
                if object.len() >= wanted {
                    break;
                }
                let name = format!("note_{number}");
                if !object.contains_key(&name) {
                    let value = self.value(extra, &slot.property(&name, None))?;
                    object.insert(name, value);
                }
            }
        }
        Ok(Value::Object(object))
    }

    /// The schema of item `position`: a tuple entry, else the common item schema.
    fn item_schema<'s>(schema: &'s Value, position: usize, anything: &'s Value) -> &'s Value {
        let tuple = schema
            .get("prefixItems")
            .or_else(|| schema.get("items").filter(|items| items.is_array()))
            .and_then(Value::as_array);
        if let Some(entry) = tuple.and_then(|tuple| tuple.get(position)) {
            return entry;
        }
        match schema.get("items") {
            Some(items @ (Value::Object(_) | Value::Bool(_))) => items,
            _ => match schema.get("additionalItems") {
                Some(items @ Value::Object(_)) => items,
                _ => anything,
            },
        }
    }

    /// Whether items of this schema are script lines: objects with a speaker and a text.
    fn is_line_item(&self, item: &Value) -> Result<bool, Failure> {
        let item = self.schema.resolve(item)?;
        let names: Vec<Vec<String>> = properties(&item)
            .into_iter()
            .map(|(name, _)| name_words(name))
            .collect();
        Ok(names.iter().any(|words| is_speaker_name(words))
            && names.iter().any(|words| is_line_text(words)))
    }

    /// Whether items of this schema hold a list of script lines, as segments of a script do.
    fn holds_lines(&self, item: &Value) -> Result<bool, Failure> {
        let item = self.schema.resolve(item)?;
        let anything = Value::Bool(true);
        for (_, property) in properties(&item) {
            let property = self.schema.resolve(property)?;
            if shape(&property)? == Shape::Array
                && self.is_line_item(Self::item_schema(&property, 0, &anything))?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn array(&self, schema: &Value, slot: &Slot) -> Result<Value, Failure> {
        let (min, max) = count_bounds(schema, "minItems", "maxItems")?;
        let anything = Value::Bool(true);
        let first_item = Self::item_schema(schema, 0, &anything);
        let draft_items = slot.draft.and_then(Value::as_array);
        let free = slot.segment.is_none() && slot.line.is_none();
        let lines = slot.line.is_none() && self.is_line_item(first_item)?;
        let segments =
            free && !lines && (is_segment_list(&slot.words) || self.holds_lines(first_item)?);

        let theme = self.theme;
        let tuple_length = schema
            .get("prefixItems")
            .or_else(|| schema.get("items"))
            .and_then(Value::as_array)
            .map(Vec::len);
        let natural = if let Some(items) = draft_items {
            items.len()
        } else if let Some(length) = tuple_length {
            length
        } else if lines {
            match &slot.segment {
                Some(segment) => natural_line_count(segment, segment.last),
                None => {
                    let all = theme.segments(theme.natural_segment_count());
                    all.iter()
                        .map(|segment| natural_line_count(segment, segment.last))
                        .sum()
                }
            }
        } else if segments {
            theme.natural_segment_count()
        } else {
            match people_list(&slot.words) {
                Some(People::Hosts) => theme.speakers().len(),
                Some(People::Characters) => theme.speakers().len().max(DEFAULT_ITEMS),
                None => DEFAULT_ITEMS,
            }
        };
        let wanted = if slot.depth >= SOFT_DEPTH {
            min
        } else {
            natural
        };
        let total = clamp_count(wanted, min, max);

        let planned: Vec<Rc<PlannedLine>> = match (lines, draft_items, &slot.segment) {
            (true, None, Some(segment)) => plan_segment(theme, segment, segment.last, total),
            (true, None, None) => {
                let all = theme.segments(theme.natural_segment_count());
                plan_script(theme, &all, total)
            }
            _ => Vec::new(),
        }
        .into_iter()
        .map(Rc::new)
        .collect();
        let bound: Vec<Rc<Segment>> = if segments {
            let mut list = theme.segments(total);
            // A reworked draft keeps its own segments, so their titles stay as written.
            for (position, item) in draft_items.into_iter().flatten().enumerate() {
                if let (Some(given), Some(slot)) = (parse_segment(item), list.get_mut(position)) {
                    let last = slot.last;
                    *slot = theme.from_outline(position, &given);
                    slot.last = last;
                }
            }
            list.into_iter().map(Rc::new).collect()
        } else {
            Vec::new()
        };

        let mut items: Vec<Value> = Vec::with_capacity(total);
        for position in 0..total {
            let draft = draft_items.and_then(|items| items.get(position));
            let mut child = slot.item(position, draft);
            if let Some(segment) = bound.get(position) {
                child.segment = Some(Rc::clone(segment));
            }
            if let Some(line) = planned.get(position) {
                child.line = Some(Rc::clone(line));
            }
            let item_schema = Self::item_schema(schema, position, &anything);
            let mut value = self.value(item_schema, &child)?;
            if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
                value = self.make_unique(value, &items, item_schema, &child)?;
            }
            items.push(value);
        }
        Ok(Value::Array(items))
    }

    fn make_unique(
        &self,
        value: Value,
        earlier: &[Value],
        schema: &Value,
        slot: &Slot,
    ) -> Result<Value, Failure> {
        let mut value = value;
        for attempt in 0..UNIQUE_RETRIES {
            if !earlier.contains(&value) {
                return Ok(value);
            }
            let retry = Slot {
                seed: child_seed(slot.seed, &format!("retry-{attempt}")),
                list_seed: child_seed(slot.list_seed, &format!("retry-{attempt}")),
                index: slot.index.map(|index| index + attempt + 1),
                ..slot.clone()
            };
            value = self.value(schema, &retry)?;
        }
        if earlier.contains(&value) {
            return Err(Failure::invalid(
                "json schema `uniqueItems` cannot be met with the values it allows",
            ));
        }
        Ok(value)
    }

    fn string(&self, schema: &Value, slot: &Slot) -> Result<String, Failure> {
        let (min, max) = count_bounds(schema, "minLength", "maxLength")?;
        let kind = schema
            .get("format")
            .and_then(Value::as_str)
            .and_then(format_kind)
            .unwrap_or_else(|| text_kind(&slot.words, slot.people));
        let theme = self.theme;
        let draft = slot.draft.and_then(Value::as_str);
        // Notes about the revision describe this revision, not the one before.
        let text = if let Some(original) = draft.filter(|_| kind != TextKind::RevisionNote) {
            draft::rework(theme, kind, original, slot.seed)
        } else if let Some(line) = &slot.line {
            let text = self.line_text(kind, line, slot);
            match &line.short_text {
                Some(short)
                    if text == line.text && max.is_some_and(|max| char_count(&text) > max) =>
                {
                    short.clone()
                }
                _ => text,
            }
        } else {
            theme.text(kind, &slot.place())
        };
        if is_fixed_format(kind) {
            return Ok(text);
        }
        Ok(fit_length(text, min, max, &|round| theme.filler(round)))
    }

    /// A property of a script line.
    fn line_text(&self, kind: TextKind, line: &PlannedLine, slot: &Slot) -> String {
        let speaker = self.theme.speaker(line.speaker);
        match kind {
            TextKind::Speaker | TextKind::PersonName => speaker.name.clone(),
            TextKind::Voice => speaker
                .voice
                .clone()
                .unwrap_or_else(|| speaker.name.to_lowercase()),
            TextKind::Title | TextKind::Segment => line.segment_title.clone(),
            TextKind::Spoken | TextKind::Narration | TextKind::Description | TextKind::Generic => {
                line.text.clone()
            }
            _ => {
                let place = Place {
                    index: Some(line.position),
                    ..slot.place()
                };
                self.theme.text(kind, &place)
            }
        }
    }

    fn number_wanted(&self, slot: &Slot) -> f64 {
        if let Some(kept) = slot.draft.and_then(Value::as_f64) {
            return kept;
        }
        let kind = number_kind(&slot.words);
        let scale = if slot.line.is_some() {
            Scale::Line
        } else if slot.segment.is_some() {
            Scale::Segment
        } else {
            Scale::Document
        };
        let index = match (&slot.line, &slot.segment) {
            // `segment_number` on a line or segment counts segments, not lines.
            (_, Some(segment)) if is_segment_list(&slot.words) => Some(segment.index),
            (Some(line), _) => Some(line.position),
            _ => slot.index,
        };
        preferred(kind, scale, index, slot.seed)
    }
}

/// Text kinds for the string formats the mock can produce.
fn format_kind(format: &str) -> Option<TextKind> {
    match format {
        "date" => Some(TextKind::Date),
        "date-time" => Some(TextKind::DateTime),
        "email" | "idn-email" => Some(TextKind::Email),
        "uri" | "url" | "iri" | "uri-reference" | "iri-reference" => Some(TextKind::Url),
        _ => None,
    }
}

/// Kinds whose text follows a format, which padding or cutting would break.
fn is_fixed_format(kind: TextKind) -> bool {
    matches!(
        kind,
        TextKind::Date | TextKind::DateTime | TextKind::Email | TextKind::Url
    )
}
