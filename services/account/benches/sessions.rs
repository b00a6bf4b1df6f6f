//! Login and refresh load: VerifyPassword (argon2-bound) and RotateSession straight over gRPC,
//! 64 calls in flight, on SQLite and (when CAMPUS_TEST_PG_URL is set) PostgreSQL.
//!
//! `cargo bench -p campus-account` prints a markdown table; `CAMPUS_BENCH_SECS` sets the
//! measured seconds (default 5).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use campus_account::{Application, Config, MailConfig};
use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_proto::account::v1::account_verification_internal_service_client::AccountVerificationInternalServiceClient;
use campus_proto::account::v1::*;
use campus_shared::{Caller, Role};
use campus_testkit::bench::{Report, run};
use campus_testkit::{Outbox, TestDatabase, TestIdentity, backends, channel};

const IN_FLIGHT: usize = 64;
const WARMUP: Duration = Duration::from_secs(1);
const PASSWORD: &str = "bench password 1";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for backend in backends() {
        let db = TestDatabase::new(backend).await;
        let identity = TestIdentity::new();
        let outbox = Outbox::new();
        let mut config = Config::new(identity.service_config(&db));
        config.mail = MailConfig::outbox(outbox.path());
        let app = Application::build(config).await?;
        let addr = app.local_addr();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let internal = AccountInternalServiceClient::new(channel(addr));
        let verification = AccountVerificationInternalServiceClient::new(channel(addr));
        let public = AccountServiceClient::new(channel(addr));

        let admin = Caller { user_id: 1, school_id: 0, role: Role::Admin, nickname: "admin".into() };
        let mut request = tonic::Request::new(CreateSchoolRequest {
            name: "Bench".into(),
            email_domain: "bench.ac.kr".into(),
        });
        request.metadata_mut().insert("authorization", identity.bearer_for(&admin).parse()?);
        let school = public.clone().create_school(request).await?.into_inner();
        let send = SendEmailCodeRequest {
            email: "bencher@bench.ac.kr".into(),
            purpose: EmailCodePurpose::SignUp as i32,
            school_id: school.id,
            client_address: String::new(),
        };
        verification.clone().send_email_code(identity.service_request(send, None)).await?;
        let signup = CreateUserRequest {
            login_id: "bencher".into(),
            password: PASSWORD.into(),
            nickname: "bencher".into(),
            email: "bencher@bench.ac.kr".into(),
            school_id: school.id,
            email_code: outbox.code_for("bencher@bench.ac.kr").await,
        };
        let user = internal.clone().create_user(identity.service_request(signup, None)).await?.into_inner();

        let label = format!("{backend:?}").to_lowercase();
        let duration = Duration::from_secs(campus_testkit::bench::measured_secs(5));
        let (client, id) = (internal.clone(), identity.clone());
        reports.push(
            run(&format!("VerifyPassword ({label})"), IN_FLIGHT, WARMUP, duration, move |_| {
                let (mut client, id) = (client.clone(), id.clone());
                async move {
                    let request = VerifyPasswordRequest {
                        login_id: "bencher".into(),
                        password: PASSWORD.into(),
                        client_address: "127.0.0.1".into(),
                    };
                    client.verify_password(id.service_request(request, None)).await.is_ok()
                }
            })
            .await,
        );

        // One refresh-token chain per worker (and spares), so rotations never collide.
        let mut tokens = VecDeque::new();
        for _ in 0..IN_FLIGHT * 2 {
            let request = identity.service_request(CreateSessionRequest { user_id: user.id }, None);
            tokens.push_back(internal.clone().create_session(request).await?.into_inner().refresh_token);
        }
        let tokens = Arc::new(Mutex::new(tokens));
        let (client, id) = (internal.clone(), identity.clone());
        reports.push(
            run(&format!("RotateSession ({label})"), IN_FLIGHT, WARMUP, duration, move |_| {
                let (mut client, id, tokens) = (client.clone(), id.clone(), tokens.clone());
                async move {
                    let Some(token) = tokens.lock().ok().and_then(|mut t| t.pop_front()) else {
                        return false;
                    };
                    let request = id.service_request(RotateSessionRequest { refresh_token: token }, None);
                    match client.rotate_session(request).await {
                        Ok(response) => {
                            if let Ok(mut t) = tokens.lock() {
                                t.push_back(response.into_inner().refresh_token);
                            }
                            true
                        }
                        Err(_) => false,
                    }
                }
            })
            .await,
        );
    }
    println!("\n{}", Report::MARKDOWN_HEADER);
    for report in &reports {
        println!("{}", report.markdown_row());
    }
    Ok(())
}
