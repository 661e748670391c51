//! `xpyd support`: which model × system × backend combinations have data.

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct SupportArgs {
    #[arg(long = "model-path", visible_alias = "model", value_name = "MODEL")]
    pub model_path: String,
    #[arg(long)]
    pub system: String,
}

pub fn run(_: &crate::run::Session, _: &SupportArgs) -> Result<String, String> {
    Err("not yet".into())
}
