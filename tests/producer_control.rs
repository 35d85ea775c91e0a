//! Producer control through the real binary (issue 18): the script review gate, forking an
//! execution from a stage, reusing identical completed calls, and upgrading parked executions
//! to an edited workflow.

#[path = "producer_control/fork.rs"]
mod fork;
#[path = "producer_control/reuse.rs"]
mod reuse;
#[path = "producer_control/review.rs"]
mod review;
mod support;
#[path = "producer_control/upgrade.rs"]
mod upgrade;
