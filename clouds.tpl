# clouds.yaml template for cloudtrace-exporter (Open Telekom Cloud).
#
# Copy to ./clouds.yaml, ~/.config/openstack/clouds.yaml or /etc/openstack/clouds.yaml (or point
# OS_CLIENT_CONFIG_FILE at it), fill in the <...> placeholders, and keep ONE of the two clouds below,
# or keep both and select one with OS_CLOUD=otc / OS_CLOUD=otc-aksk.
# Secrets may live in a separate secure.yaml with the same layout (its values win over this file).
# Every value can also come from the environment (OS_USERNAME, OS_PASSWORD, OS_ACCESS_KEY, ...):
# values in this file win, the environment only fills gaps. See docs/authentication.md.
clouds:
  # --- Password authentication: a project-scoped IAM token, cached and refreshed automatically.
  otc:
    profile: otc                              # fills auth_url from the region: https://iam.<region>.otc.t-systems.com/v3
    auth:
      username: '<USER_NAME>'                 # IAM user name
      password: '<PASSWORD>'                  # or put it in secure.yaml / OS_PASSWORD
      project_name: 'eu-de_<PROJECT_NAME>'    # <region>_<project>; plain 'eu-de' is the region's default project
      user_domain_name: 'OTC0000000000xxxxxxxxxx'   # your account (domain) name
      auth_url: 'https://iam.eu-de.otc.t-systems.com:443/v3'   # optional with profile: otc
    interface: 'public'
    identity_api_version: 3
    # region_name: eu-de                      # optional: otherwise taken from OS_REGION_NAME, then the project_name prefix

  # --- AK/SK authentication: every request is signed (SDK-HMAC-SHA256); no token is issued.
  # If a cloud has both ak/sk and username/password, AK/SK is used.
  otc-aksk:
    profile: otc
    auth:
      ak: '<ACCESS_KEY>'                      # access key id (also accepted as access_key)
      sk: '<SECRET_KEY>'                      # secret key (also accepted as secret_key); or secure.yaml / OS_SECRET_KEY
      # security_token: '<SECURITY_TOKEN>'    # only for temporary AK/SK (sent as X-Security-Token)
      project_name: 'eu-de_<PROJECT_NAME>'    # resolved to a project id via IAM; or set project_id instead
      auth_url: 'https://iam.eu-de.otc.t-systems.com:443/v3'
    interface: 'public'
    identity_api_version: 3
    # aksk_signing: sdk                       # signature form: sdk (default, as OTC's own SDK signs) or guide
                                              # (the signing guide's Access= form); or OS_AKSK_SIGNING.
                                              # After a signature refusal the other form is tried once.
