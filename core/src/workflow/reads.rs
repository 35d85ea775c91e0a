//! Which earlier stages' outputs a stage's templates read. Deciding a step renders templates
//! against a context of stage outputs; building and converting the outputs of every earlier
//! stage would make each step cost more the longer the workflow, so the context holds only the
//! outputs a stage can read.

use std::collections::BTreeSet;

use crate::ids::StageId;
use crate::template;

use super::{SchemaBody, StageKind};

/// The stage outputs a stage's templates read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageReads {
    /// Some template reads `stages` as a whole (iterates it, indexes it by a computed name,
    /// prints it): every output must be there.
    All,
    /// Only these stages' outputs are read.
    Only(BTreeSet<StageId>),
}

impl StageReads {
    /// What the templates of a stage read: its `when`, `for_each`, input fields, prompt,
    /// system and schema templates and its checks. A template that does not compile reads nothing here; validation
    /// reports it and the stage never runs.
    pub fn of(when: Option<&str>, for_each: Option<&str>, kind: &StageKind) -> StageReads {
        let mut references = BTreeSet::new();
        for expression in when.into_iter().chain(for_each) {
            references.extend(template::expression_references(expression).unwrap_or_default());
        }
        if let StageKind::Call(call) = kind {
            for value in call.input.values() {
                references.extend(template::tree_references(value).unwrap_or_default());
            }
            let sources = call
                .prompt
                .iter()
                .chain(&call.system)
                .map(|file| &file.source);
            let schema_template = call.schema.iter().filter_map(|schema| match &schema.body {
                SchemaBody::Template(source) => Some(source),
                SchemaBody::Fixed(_) => None,
            });
            for source in sources.chain(schema_template) {
                references.extend(template::template_references(source).unwrap_or_default());
            }
            for check in &call.checks {
                for expression in check.for_each.iter().chain([&check.that]) {
                    references
                        .extend(template::expression_references(expression).unwrap_or_default());
                }
                references
                    .extend(template::template_references(&check.message).unwrap_or_default());
            }
        }
        let mut stages = BTreeSet::new();
        for reference in &references {
            let mut parts = reference.split('.');
            if parts.next() != Some("stages") {
                continue;
            }
            match parts.next() {
                Some(stage) => {
                    stages.insert(StageId(stage.to_string()));
                }
                None => return StageReads::All,
            }
        }
        StageReads::Only(stages)
    }

    pub fn includes(&self, stage: &StageId) -> bool {
        match self {
            StageReads::All => true,
            StageReads::Only(stages) => stages.contains(stage),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::workflow::{CallStage, TemplateFile};

    fn call_with_prompt(prompt: &str) -> StageKind {
        StageKind::Call(Box::new(CallStage {
            service: "llm".into(),
            function: "generate".into(),
            input: BTreeMap::new(),
            prompt: Some(TemplateFile {
                path: "prompt.md".into(),
                source: prompt.into(),
            }),
            system: None,
            schema: None,
            checks: Vec::new(),
            reuse_identical: None,
        }))
    }

    #[test]
    fn named_stages_are_read_and_no_others() {
        let reads = StageReads::of(
            Some("stages.draft.output.ok"),
            None,
            &call_with_prompt("{{ stages.outline.output.title }} {{ inputs.topic }}"),
        );
        assert_eq!(
            reads,
            StageReads::Only(BTreeSet::from([
                StageId("draft".into()),
                StageId("outline".into())
            ]))
        );
    }

    #[test]
    fn reading_stages_as_a_whole_reads_everything() {
        for prompt in [
            "{% for id, stage in stages|items %}{{ id }}{% endfor %}",
            "{{ stages[inputs.which].output }}",
            "{{ stages|tojson }}",
        ] {
            assert_eq!(
                StageReads::of(None, None, &call_with_prompt(prompt)),
                StageReads::All,
                "{prompt}"
            );
        }
    }
}
