//! One worker's launch command, the same in the run scripts and the manifest:
//! the Dynamo module and its arguments for the role.

use super::hardware::Hardware;
use super::plan::{Backend, Plan, RolePlan};
use super::settings::DeployOptions;
use super::{sglang, trtllm, vllm};

pub struct WorkerCommand {
    /// `dynamo.trtllm`, `dynamo.vllm` or `dynamo.sglang`.
    pub module: &'static str,
    pub args: Vec<String>,
}

/// The backend's folder in the Dynamo runtime image.
pub fn working_dir(backend: Backend) -> &'static str {
    match backend {
        Backend::Trtllm => "/workspace/components/backends/trtllm",
        Backend::Vllm => "/workspace/examples/backends/vllm",
        Backend::Sglang => "/workspace/components/backends/sglang",
    }
}

/// The command of a worker of role `r`. `script` writes the model and served
/// name as the run scripts' `$MODEL_PATH` / `$SERVED_MODEL_NAME` and the
/// TRT-LLM engine config from the bundle folder; otherwise literal values
/// and the manifest's mount.
pub fn command(
    plan: &Plan,
    r: &RolePlan,
    opts: &DeployOptions,
    hw: &Hardware,
    script: bool,
) -> WorkerCommand {
    let (model, served) = if script {
        ("$MODEL_PATH".to_string(), "$SERVED_MODEL_NAME".to_string())
    } else {
        (
            opts.model_path(&plan.model).to_string(),
            opts.served_model_name(&plan.model).to_string(),
        )
    };
    let router = opts.enable_router(plan.prefix);
    match plan.backend {
        Backend::Trtllm => {
            let mut args = trtllm::worker_args(r.role, &model, &served, router);
            if script {
                if let Some(i) = args.iter().position(|a| a == "--extra-engine-args") {
                    args[i + 1] = format!("$ENGINE_CONFIG_DIR/{}", r.role.config_file());
                }
            }
            WorkerCommand {
                module: "dynamo.trtllm",
                args,
            }
        }
        Backend::Vllm => {
            let mut args = vec![
                "--model".into(),
                model,
                "--served-model-name".into(),
                served,
            ];
            args.extend(vllm::engine_flags(
                plan,
                r,
                &opts.backend_version(Backend::Vllm),
                opts.dynamo_version(),
            ));
            WorkerCommand {
                module: "dynamo.vllm",
                args,
            }
        }
        Backend::Sglang => {
            let mut args = vec![
                "--model-path".into(),
                model,
                "--served-model-name".into(),
                served,
            ];
            args.extend(sglang::engine_flags(plan, r, hw));
            args.push("--host".into());
            args.push("0.0.0.0".into());
            WorkerCommand {
                module: "dynamo.sglang",
                args,
            }
        }
    }
}

/// A shell word: bare when safe, else single-quoted (`$VARS` double-quoted so they expand).
pub fn shell_word(s: &str) -> String {
    if s.starts_with('$')
        && s[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '.')
    {
        return format!("\"{s}\"");
    }
    let safe = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | ',' | '=' | '+')
        });
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_quote_json_and_expand_vars() {
        assert_eq!(shell_word("--tp"), "--tp");
        assert_eq!(shell_word("$MODEL_PATH"), "\"$MODEL_PATH\"");
        assert_eq!(
            shell_word("$ENGINE_CONFIG_DIR/agg_config.yaml"),
            "\"$ENGINE_CONFIG_DIR/agg_config.yaml\""
        );
        assert_eq!(shell_word(r#"{"a":1}"#), r#"'{"a":1}'"#);
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
