//! `cairn accounts …`: the accounts in the system namespace.
use crate::config::AccountsCommand;

/// `cairn accounts …`: plain text by default, one JSON document with `--json`.
pub async fn accounts(command: AccountsCommand, ns: &str, json: bool) -> anyhow::Result<()> {
    use crate::auth::accounts as acc;
    let client = crate::kube_client::client("cairn").await?;
    let out = |j: serde_json::Value, text: String| {
        if json {
            println!("{j}");
        } else {
            println!("{text}");
        }
    };
    match command {
        AccountsCommand::InitialAdminPassword => match crate::auth::initial_admin_password(&client, ns).await? {
            Some(p) => out(serde_json::json!({ "password": p }), p),
            None => anyhow::bail!("the initial admin password is no longer available (it was changed, or accounts were not bootstrapped by Cairn)"),
        },
        AccountsCommand::Create { username, password } => {
            let password = password.read()?;
            acc::create_account(&client, ns, &username, &password).await?;
            out(serde_json::json!({ "username": username, "created": true }), format!("account {username} created"));
        }
        AccountsCommand::List => {
            let list = acc::list_accounts(&client, ns).await?;
            let mut text = String::from("USERNAME\tENABLED\tCAPABILITIES");
            for a in &list {
                text.push_str(&format!("\n{}\t{}\t{}", a.username, a.enabled, a.capabilities.join(",")));
            }
            out(serde_json::to_value(&list)?, text);
        }
        AccountsCommand::Delete { username } => {
            acc::delete_account(&client, ns, &username).await?;
            out(serde_json::json!({ "username": username, "deleted": true }), format!("account {username} deleted"));
        }
        AccountsCommand::SetPassword { username, password } => {
            let password = password.read()?;
            acc::change_password(&client, ns, &username, &password).await?;
            out(serde_json::json!({ "username": username, "passwordChanged": true }), format!("password of {username} changed"));
        }
        AccountsCommand::ResetJwtKeys => {
            acc::reset_jwt_key(&client, ns).await?;
            out(
                serde_json::json!({ "reset": true }),
                "session key replaced: every issued token is now invalid (running servers pick up the new key through their watch)".into(),
            );
        }
    }
    Ok(())
}
