//! Loads the selected cloud (OS_CLOUD or the only one in clouds.yaml), authenticates, and prints the
//! project, domain and CTS endpoint. Secrets are never printed.
//!
//! ```text
//! OS_CLOUD=otc cargo run -p otc-auth --example show_cloud
//! OS_CLOUD=otc cargo run -p otc-auth --example show_cloud -- --offline   # configuration only, no IAM call
//! ```

use otc_auth::{load_cloud, AuthProvider, LoadOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), otc_auth::Error> {
    let offline = std::env::args().any(|a| a == "--offline");
    let cloud = load_cloud(&LoadOptions::from_process(), None)?;
    println!("cloud:      {} ({})", cloud.name, cloud.origin);
    println!("auth_url:   {}", cloud.auth_url);
    println!("region:     {}", cloud.region);
    println!("credential: {}", cloud.credentials.describe());
    if offline {
        return Ok(());
    }
    let auth = AuthProvider::new(cloud)?;
    println!("project_id: {}", auth.project_id().await?);
    println!(
        "domain_id:  {}",
        auth.domain_id()
            .await?
            .unwrap_or_else(|| "(unknown)".into())
    );
    println!("cts:        {}", auth.endpoint("cts").await?);
    Ok(())
}
