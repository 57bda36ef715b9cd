//! Per-step state shared by the stages: logging with masking, output variables, expansion.

use std::path::PathBuf;

use super::{Cancel, ExecConfig, LogSink, LogStream, OutputVariable, StepJob};
use domain::variables::{ResolvedVariable, mask};

/// The error of a cancelled step.
pub(crate) const CANCELLED: &str = "the step was cancelled";

/// State shared by the stages of one step.
pub(crate) struct Ctx<'a> {
    pub job: &'a StepJob,
    pub cfg: &'a ExecConfig,
    pub cancel: &'a Cancel,
    pub(super) sink: &'a mut dyn LogSink,
    /// Values to mask: the job's sensitive values plus sensitive outputs so far.
    secrets: Vec<String>,
    pub outputs: Vec<OutputVariable>,
    pub exit_code: Option<i32>,
    pub installed_to: Option<PathBuf>,
    /// Expanded variables (those whose expansion failed are left out), computed once.
    expanded: Option<Vec<ResolvedVariable>>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(
        job: &'a StepJob,
        cfg: &'a ExecConfig,
        sink: &'a mut dyn LogSink,
        cancel: &'a Cancel,
    ) -> Self {
        Ctx {
            job,
            cfg,
            cancel,
            sink,
            secrets: job.variables.sensitive_values(),
            outputs: Vec::new(),
            exit_code: None,
            installed_to: None,
            expanded: None,
        }
    }

    pub fn mask(&self, text: &str) -> String {
        mask(text, &self.secrets)
    }

    /// Logs a line, masked.
    pub fn log(&mut self, stream: LogStream, text: &str) {
        let masked = self.mask(text);
        self.sink.line(stream, &masked);
    }

    pub fn info(&mut self, text: &str) {
        self.log(LogStream::Info, text);
    }

    pub fn warn(&mut self, text: &str) {
        self.log(LogStream::Warn, text);
    }

    /// Evaluates a template (a file's text, an inline script) in the mode the variables ask
    /// for (`Deploy.Template.Mode`): warnings go to the log, values filters derived from
    /// secrets join the masked ones.
    pub fn evaluate(&mut self, text: &str) -> Result<String, domain::variables::VariableError> {
        let vars = &self.job.variables;
        let e = vars.evaluate(text, vars.template_mode())?;
        for s in e.derived_secrets {
            if !self.secrets.contains(&s) {
                self.secrets.push(s);
            }
        }
        for w in &e.warnings {
            self.warn(w);
        }
        Ok(e.text)
    }

    /// Fails with [`CANCELLED`] if cancellation was requested.
    pub fn check_cancel(&self) -> Result<(), String> {
        if self.cancel.is_cancelled() {
            Err(CANCELLED.to_string())
        } else {
            Ok(())
        }
    }

    /// Records an output variable (a later one with the same name, case-insensitive, replaces
    /// the earlier) and logs that it was set.
    pub fn set_output(&mut self, var: OutputVariable) {
        if var.sensitive && !var.value.is_empty() && !self.secrets.contains(&var.value) {
            self.secrets.push(var.value.clone());
        }
        let shown = if var.sensitive {
            domain::variables::MASK.to_string()
        } else {
            var.value.clone()
        };
        self.info(&format!("output variable '{}' set to '{shown}'", var.name));
        self.outputs
            .retain(|o| !o.name.trim().eq_ignore_ascii_case(var.name.trim()));
        self.outputs.push(var);
    }

    /// Every variable with its expanded value; variables whose expansion fails are skipped
    /// with a warning naming them (only the first time).
    pub fn expanded(&mut self) -> Vec<ResolvedVariable> {
        if let Some(e) = &self.expanded {
            return e.clone();
        }
        let vars = &self.job.variables;
        let list = match vars.expand_all() {
            Ok(all) => all,
            Err(_) => {
                let mut ok = Vec::new();
                let names: Vec<String> = vars.names().map(str::to_string).collect();
                for name in names {
                    match vars.get(&name) {
                        Ok(Some(value)) => ok.push(ResolvedVariable {
                            sensitive: vars.raw(&name).is_some_and(|r| r.sensitive),
                            name,
                            value,
                        }),
                        Ok(None) => {}
                        Err(e) => self.warn(&format!(
                            "variable '{name}' is not available to scripts or structured files: {e}"
                        )),
                    }
                }
                ok
            }
        };
        self.expanded = Some(list.clone());
        list
    }
}
