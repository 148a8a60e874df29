//! One operation name over several ruma request types, chosen by which arguments are given
//! (e.g. `download_media` with or without `filename`, `get_relations` with or without
//! `rel_type` and `event_type`).

use serde_json::Value;

use super::{BuildError, OpContext, Operation, SchemaMismatch};

/// An operation that builds with one of several variants, all sharing the argument type and
/// the response shape.
pub struct Variants {
    /// Name used in scenario files.
    pub name: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    /// Method and path template, as the spec writes it (the most general form).
    pub endpoint: (&'static str, &'static str),
    /// Picks the index of the variant that handles the given arguments.
    pub select: fn(&Value) -> usize,
    /// The variants; the first one also checks responses and supplies the argument schema.
    pub variants: Vec<Box<dyn Operation>>,
}

impl Operation for Variants {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn endpoint(&self) -> (&'static str, &'static str) {
        self.endpoint
    }

    fn args_schema(&self) -> schemars::Schema {
        match self.variants.first() {
            Some(first) => first.args_schema(),
            None => schemars::json_schema!({"type": "object"}),
        }
    }

    fn build(
        &self,
        args: &Value,
        ctx: &OpContext<'_>,
    ) -> Result<http::Request<Vec<u8>>, BuildError> {
        match self.variants.get((self.select)(args)) {
            Some(variant) => variant.build(args, ctx),
            None => Err(BuildError {
                pointer: String::new(),
                message: format!("`{}` has no request form for these arguments", self.name),
            }),
        }
    }

    fn check_response(&self, response: http::Response<&[u8]>) -> Result<(), SchemaMismatch> {
        match self.variants.first() {
            Some(first) => first.check_response(response),
            None => Ok(()),
        }
    }
}

/// Whether the arguments give `key` a non-null value.
pub fn has(args: &Value, key: &str) -> bool {
    args.get(key).is_some_and(|v| !v.is_null())
}
