//! The checks of an approval stage: it waits for a person, so the fields that shape calls
//! (`for_each`, `checks`, `reuse`) do not apply to it.

use toml::Spanned;

use super::StageKind;
use super::build::Builder;
use super::raw::{RawApproval, RawStage};
use crate::ids::StageId;

/// How long approval may wait before a reminder, unless the gate says otherwise.
const DEFAULT_REMINDER_MS: u64 = 7 * 24 * 3_600 * 1_000;

impl Builder<'_> {
    pub(super) fn approval_stage(
        &mut self,
        raw: &RawStage,
        approval: &Spanned<RawApproval>,
    ) -> Option<StageKind> {
        for (field, used) in [
            ("for_each", raw.for_each.is_some()),
            ("reuse", raw.reuse.is_some()),
        ] {
            if used {
                self.error(
                    approval.span(),
                    format!("an approval stage cannot use {field}"),
                );
            }
        }
        if let Some(check) = raw.checks.first() {
            self.error(
                check.span(),
                "checks apply to stages that call a function, not to approval stages",
            );
        }
        let reminder_after_ms = self.duration_or(
            approval.get_ref().reminder_after.as_ref(),
            DEFAULT_REMINDER_MS,
        );
        Some(StageKind::Approval {
            subject: StageId(approval.get_ref().subject.get_ref().clone()),
            reminder_after_ms,
        })
    }
}
