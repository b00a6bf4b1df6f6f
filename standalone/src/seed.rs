//! Demo data for a new database: two schools, Everytime's usual boards in each, and a 2026 FALL
//! lecture catalog. It goes through the services' own gRPC APIs (as an administrator whose
//! token the runner signs), so the demo data obeys every rule real data does. Then
//! [`activity`] fills each school with demo students and a week of posts, comments and likes.

mod activity;

pub use activity::{DEMO_PASSWORD, STUDENTS};

use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_proto::account::v1::{CreateSchoolRequest, ListSchoolsRequest};
use campus_proto::board::v1::board_service_client::BoardServiceClient;
use campus_proto::board::v1::{BoardCategory, CreateBoardRequest};
use campus_proto::google::api::HttpBody;
use campus_proto::timetable::v1::timetable_service_client::TimetableServiceClient;
use campus_proto::timetable::v1::{ImportLecturesRequest, Semester};
use campus_shared::identity::{Caller, Role, TokenIssuer};
use secrecy::SecretString;
use tonic::transport::Channel;

const SCHOOLS: &[(&str, &str)] = &[("한빛대학교", "hanbit.ac.kr"), ("새솔대학교", "saesol.ac.kr")];

const BOARDS: &[(&str, &str, BoardCategory, bool)] = &[
    ("자유게시판", "자유롭게 이야기하는 곳", BoardCategory::General, false),
    ("비밀게시판", "모든 글이 익명으로 올라가는 곳", BoardCategory::Secret, false),
    ("졸업생게시판", "졸업생과 재학생의 이야기", BoardCategory::Alumni, false),
    ("새내기게시판", "새내기를 위한 게시판", BoardCategory::Freshman, false),
    ("시사·이슈", "시사와 사회 이슈", BoardCategory::Issue, false),
    ("장터게시판", "중고 거래와 나눔", BoardCategory::Market, true),
    ("정보게시판", "학교 생활 정보", BoardCategory::Info, false),
    ("홍보게시판", "행사와 모임 홍보", BoardCategory::Promotion, true),
    ("동아리·학회", "동아리와 학회 소식", BoardCategory::Club, false),
];

const LECTURES_2026_FALL: &str = include_str!("../seed/lectures-2026-fall.csv");

/// The addresses of the services to seed.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub account: Channel,
    pub board: Channel,
    pub timetable: Channel,
}

fn as_admin<T>(issuer: &TokenIssuer, school_id: i64, message: T) -> anyhow::Result<tonic::Request<T>> {
    let caller = Caller { user_id: 0, school_id, role: Role::Admin, nickname: "campus".into() };
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {}", issuer.issue(&caller)?).parse()?);
    Ok(request)
}

/// What the demo students need: the service credential (accounts are created through the
/// internal API) and the board service's HOT threshold, so that some demo posts reach it.
#[derive(Debug, Clone)]
pub struct Activity {
    pub service_token: SecretString,
    pub hot_likes: i64,
    /// The board service's database, whose own [`campus_board::demo`] spreads the week.
    pub board_database: campus_shared::config::DatabaseConfig,
}

/// How far back the demo week reaches.
const DEMO_WEEK_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

/// Seeds the demo data when no school exists yet, with the students and their week of posts
/// when `activity` is given; returns whether it did.
pub async fn seed_if_empty(
    upstreams: &Upstreams,
    issuer: &TokenIssuer,
    activity: Option<&Activity>,
) -> anyhow::Result<bool> {
    let mut account = AccountServiceClient::new(upstreams.account.clone());
    let existing =
        account.list_schools(ListSchoolsRequest { page_size: 1, page_token: String::new() }).await?;
    if !existing.into_inner().schools.is_empty() {
        return Ok(false);
    }
    let mut board = BoardServiceClient::new(upstreams.board.clone());
    let mut timetable = TimetableServiceClient::new(upstreams.timetable.clone())
        .max_decoding_message_size(16 << 20)
        .max_encoding_message_size(16 << 20);
    let mut weeks = tokio::task::JoinSet::new();
    for (school_index, (name, domain)) in SCHOOLS.iter().enumerate() {
        let school = account
            .create_school(as_admin(
                issuer,
                0,
                CreateSchoolRequest { name: name.to_string(), email_domain: domain.to_string() },
            )?)
            .await?
            .into_inner();
        let mut boards = Vec::with_capacity(BOARDS.len());
        for (board_name, description, category, hot_disabled) in BOARDS {
            let created = board
                .create_board(as_admin(
                    issuer,
                    school.id,
                    CreateBoardRequest {
                        name: board_name.to_string(),
                        description: description.to_string(),
                        category: *category as i32,
                        hot_disabled: *hot_disabled,
                    },
                )?)
                .await?
                .into_inner();
            boards.push(created);
        }
        if let Some(options) = activity {
            // The schools' weeks are written side by side while the next school is set up.
            let (account, board) = (upstreams.account.clone(), upstreams.board.clone());
            let (options, issuer, school_id, domain) = (options.clone(), issuer.clone(), school.id, *domain);
            weeks.spawn(async move {
                activity::seed_school(
                    (account, board),
                    &options.service_token,
                    &issuer,
                    school_index,
                    (school_id, domain),
                    &boards,
                    usize::try_from(options.hot_likes).unwrap_or(usize::MAX),
                )
                .await
                .map(|()| school_id)
            });
        }
        timetable
            .import_lectures(as_admin(
                issuer,
                school.id,
                ImportLecturesRequest {
                    school_id: school.id,
                    year: 2026,
                    semester: Semester::Fall as i32,
                    csv: Some(HttpBody {
                        content_type: "text/csv".into(),
                        data: LECTURES_2026_FALL.as_bytes().to_vec(),
                        extensions: Vec::new(),
                    }),
                },
            )?)
            .await?;
    }
    let mut seeded = Vec::new();
    while let Some(week) = weeks.join_next().await {
        seeded.push(week??);
    }
    if let Some(options) = activity {
        // Written in a second, the week is then spread over the past seven days.
        for school_id in seeded {
            campus_board::demo::spread_over_past(&options.board_database, school_id, DEMO_WEEK_MICROS)
                .await?;
        }
    }
    Ok(true)
}
