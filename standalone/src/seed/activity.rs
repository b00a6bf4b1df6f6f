//! A believable week of Everytime-style activity for each demo school: demo students, a few
//! hundred posts across the boards, anonymous and named comments and replies, likes (enough on
//! some posts to make them HOT) and scraps.
//!
//! The plan is computed first, deterministically, from templates and a small PRNG seeded by
//! the school's index; then it is played through the board service's gRPC API, as the
//! students themselves (tokens the runner signs), so every domain rule applies: no likes on
//! one's own post, anonymous numbering, HOT thresholds, boards that opted out of HOT.

use std::sync::Arc;

use campus_proto::account::v1::CreateVerifiedUserRequest;
use campus_proto::account::v1::account_verification_internal_service_client::AccountVerificationInternalServiceClient;
use campus_proto::board::v1::board_service_client::BoardServiceClient;
use campus_proto::board::v1::{
    Board, BoardCategory, CreateCommentRequest, CreatePostRequest, LikeCommentRequest, LikePostRequest,
    ScrapPostRequest,
};
use campus_shared::identity::{Caller, Role, SERVICE_TOKEN_HEADER, TokenIssuer};
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinSet;
use tonic::transport::Channel;

/// The password of every demo account (listed in the README).
pub const DEMO_PASSWORD: &str = "campus-demo-2026";

/// Posts per school.
const POSTS: usize = 200;
/// Calls in flight per school while playing the plan.
const WORKERS: usize = 6;

/// Demo students of a school: login id prefix and nicknames (login ids are `<prefix>01`…).
pub const STUDENTS: &[(&str, &[&str])] = &[
    (
        "hanbit",
        &[
            "새벽세시",
            "중도지박령",
            "학식러버",
            "공대생김씨",
            "과탑희망",
            "복학생",
            "새내기23",
            "커피수혈",
            "자취생",
            "동방지킴이",
            "막학기",
            "휴학각",
        ],
    ),
    (
        "saesol",
        &[
            "솔숲산책",
            "도서관요정",
            "라면한그릇",
            "경영학도",
            "전과준비",
            "기숙사생",
            "교환학생",
            "알바천국",
            "시험폭망",
            "조별과제장",
            "졸업반",
            "새솔러",
        ],
    ),
];

/// splitmix64: small, fast and good enough to make demo data look varied.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---- templates: {과목} {장소} {음식} {시간} are filled in from the lists below ----

const COURSES: &[&str] = &[
    "알고리즘",
    "자료구조",
    "일반화학",
    "미적분학",
    "경제원론",
    "심리학개론",
    "운영체제",
    "선형대수",
    "회계원리",
    "교양영어",
    "글쓰기",
    "통계학",
];
const PLACES: &[&str] = &[
    "중도",
    "학관",
    "공대 7호관",
    "정문",
    "후문",
    "기숙사",
    "학생회관 2층",
    "인문관",
    "운동장",
    "셔틀 정류장",
];
const FOODS: &[&str] =
    &["학식", "마라탕", "돈까스", "국밥", "떡볶이", "샐러드", "편의점 도시락", "짜장면", "카레"];
const TIMES: &[&str] = &["아침 9시", "점심시간", "3시쯤", "저녁 7시", "밤 11시", "새벽 2시"];

type Template = (&'static str, &'static str);

const GENERAL: &[Template] = &[
    ("{장소} 지금 사람 많나요?", "{시간}에 가려고 하는데 자리 있을지 궁금해요."),
    ("오늘 {음식} 맛있었다", "{장소} 근처에서 먹었는데 생각보다 괜찮았어요. 추천합니다."),
    ("{과목} 과제 다들 했어?", "마감이 내일인데 아직 반도 못 했어요… 다들 어디까지 하셨나요?"),
    ("비 오는데 우산 없는 사람", "{장소}에서 {시간}까지 기다리는 중입니다. 같이 쓰실 분?"),
    ("{시간}인데 아직 안 잔 사람", "과제하다가 정신 차려보니 이 시간이네요."),
    ("중간고사 끝나면 뭐 하세요?", "저는 일단 {음식} 먹고 하루 종일 잘 거예요."),
    ("{장소} 와이파이 원래 이렇게 느려요?", "영상 강의 하나 보는 데 한참 걸리네요."),
    ("오늘 날씨 미쳤다", "{장소} 앞 벚꽃 보러 가실 분들 지금이 딱이에요."),
    ("학교 고양이 봤어요", "{장소} 앞에 치즈냥이 누워 있어요. 너무 귀여워요."),
    ("{음식} vs {음식} 골라주세요", "점심 메뉴 고민 중인데 결정 장애 왔어요."),
];
const SECRET: &[Template] = &[
    ("{과목} 교수님 너무 무서워요", "질문하러 갔다가 혼나고 왔어요. 저만 그런가요?"),
    ("연애 상담 좀 해주세요", "같은 수업 듣는 사람이 자꾸 생각나는데 어떻게 말을 걸어야 할까요."),
    ("휴학 고민 중이에요", "요즘 너무 지쳐서 한 학기 쉴까 하는데 해보신 분들 어떠셨나요?"),
    ("전과 준비하는 사람 있나요", "지금 과가 안 맞는 것 같아서요. 학점은 어느 정도 필요할까요?"),
    ("룸메랑 안 맞아요", "{시간}에 알람을 열 개씩 맞춰 놓는데 말을 해야 할지 모르겠어요."),
    ("솔직히 {과목} 포기하고 싶다", "재수강까지 했는데 이번에도 어려워요."),
];
const ALUMNI: &[Template] = &[
    ("졸업 후 첫 출근 후기", "학교 다닐 때 {과목} 열심히 들어둘 걸 그랬어요."),
    ("오랜만에 학교 왔는데", "{장소}가 많이 바뀌었네요. {음식} 가게는 아직 있어서 반가웠어요."),
    ("취준생 여러분 힘내세요", "저도 1년 걸렸어요. 포기하지만 않으면 됩니다."),
    ("대학원 진학 고민", "{과목} 쪽으로 석사 생각 중인데 연구실 분위기 아시는 분?"),
];
const FRESHMAN: &[Template] = &[
    ("새내기인데 수강신청 어떻게 해요?", "{과목}이 필수라는데 분반마다 다른가요?"),
    ("{장소} 어디 있는지 아시는 분", "첫 수업이 거기라서요. 지도 봐도 잘 모르겠어요."),
    ("동아리 추천해주세요", "운동도 하고 친구도 사귈 수 있는 곳이면 좋겠어요."),
    ("학식 뭐가 맛있어요?", "{음식} 괜찮다던데 진짜인가요?"),
    ("과잠 언제 나와요?", "과 단톡방에서 신청했는데 소식이 없어서요."),
    ("기숙사 통금 있나요?", "{시간}까지 들어가야 한다는 얘기를 들었어요."),
];
const ISSUE: &[Template] = &[
    ("등록금 인상 소식 보셨나요?", "총학에서 설명회 한다는데 {시간}에 {장소}래요."),
    ("셔틀버스 증차 서명 받습니다", "아침마다 {장소} 줄이 너무 길어요. 함께해 주세요."),
    ("도서관 24시간 개방 축소", "시험기간만이라도 다시 늘려줬으면 좋겠어요."),
    ("학식 가격 또 올랐네요", "{음식}이 500원 올랐어요. 다들 체감되시나요?"),
];
const MARKET: &[Template] = &[
    ("{과목} 전공책 팝니다", "필기 거의 없어요. 정가의 절반에 드려요. {장소}에서 직거래 가능."),
    ("자취방 정리합니다", "전자레인지, 스탠드, 행거 나눔해요. {시간}에 {장소}에서."),
    ("아이패드 펜슬 삽니다", "1세대도 괜찮아요. 쪽지 주세요."),
    ("기숙사 냉장고 양도", "한 학기만 썼어요. {장소}까지 옮겨 드릴 수 있어요."),
    ("{과목} 족보 구해요", "사례는 {음식} 쏘겠습니다."),
];
const INFO: &[Template] = &[
    ("{과목} 수강 꿀팁 정리", "출석이 중요하고, 과제는 미리미리 하세요. 시험은 필기 위주로 나와요."),
    ("{장소} 프린터 위치 정리", "1층 입구 옆, 3층 열람실 앞에 있어요. 학생증 충전해서 쓰면 돼요."),
    ("장학금 신청 기간 안내", "이번 주 금요일까지래요. 학과 사무실에 서류 내면 됩니다."),
    ("셔틀 시간표 바뀌었어요", "{시간} 차가 없어지고 10분 간격으로 바뀌었대요."),
    ("열람실 좌석 예약하는 법", "학교 앱에서 {시간}부터 다음 날 좌석 예약이 열려요."),
];
const PROMOTION: &[Template] = &[
    ("밴드 동아리 정기공연 합니다", "{시간}에 {장소}에서 해요. 무료입니다!"),
    ("스터디원 모집 ({과목})", "매주 두 번 {장소}에서 모여요. 부담 없이 오세요."),
    ("설문조사 부탁드립니다", "졸업 논문 설문이에요. 3분이면 끝나요. 추첨해서 {음식} 기프티콘 드려요."),
    ("플리마켓 참가자 모집", "{장소}에서 열려요. 안 쓰는 물건 가지고 오세요."),
];
const CLUB: &[Template] = &[
    ("학회 신입 기수 모집", "{과목}에 관심 있는 분 누구나 환영해요. 면접은 {장소}에서."),
    ("축구 동아리 이번 주 경기", "{시간} {장소}에서 해요. 응원 와 주세요."),
    ("사진 동아리 출사 후기", "{장소}에서 찍었는데 노을이 정말 예뻤어요."),
    ("코딩 동아리 해커톤 공지", "주제는 캠퍼스 생활 개선. 밤새 {음식} 제공합니다."),
];

const COMMENTS: &[&str] = &[
    "저도 궁금했어요",
    "ㅋㅋㅋㅋ 완전 공감",
    "헐 진짜요?",
    "저 지금 거기 있는데 자리 있어요",
    "감사합니다 참고할게요",
    "이거 맞아요",
    "저만 그런 게 아니었군요",
    "ㅠㅠ 힘내세요",
    "오 정보 감사해요",
    "쪽지 드렸어요",
    "아직 판매하시나요?",
    "저도 같은 생각이에요",
    "교수님 좋으세요 걱정 마세요",
    "작년에 들었는데 괜찮았어요",
    "그 시간엔 사람 많아요",
    "완전 추천합니다",
    "ㅋㅋㅋ 글쓴이 센스",
    "이건 좀 아닌 것 같아요",
    "저도 갈래요!",
    "정리 깔끔하네요",
    "와 몰랐어요",
    "다음엔 저도 불러주세요",
    "혹시 몇 시까지 해요?",
    "좋은 하루 보내세요",
];
const REPLIES: &[&str] = &[
    "맞아요 ㅋㅋ",
    "감사합니다!",
    "쪽지 확인해 주세요",
    "저도요 ㅠㅠ",
    "오 그렇군요",
    "네 아직 있어요",
    "헉 몰랐네요",
    "좋아요!",
    "아하 이해했어요",
    "그쵸?",
];

fn templates(category: i32) -> &'static [Template] {
    match BoardCategory::try_from(category).unwrap_or(BoardCategory::General) {
        BoardCategory::Secret => SECRET,
        BoardCategory::Alumni => ALUMNI,
        BoardCategory::Freshman => FRESHMAN,
        BoardCategory::Issue => ISSUE,
        BoardCategory::Market => MARKET,
        BoardCategory::Info => INFO,
        BoardCategory::Promotion => PROMOTION,
        BoardCategory::Club => CLUB,
        _ => GENERAL,
    }
}

/// How many of every 100 posts each category gets.
fn weight(category: i32) -> usize {
    match BoardCategory::try_from(category).unwrap_or(BoardCategory::General) {
        BoardCategory::General => 30,
        BoardCategory::Secret => 15,
        BoardCategory::Freshman | BoardCategory::Info | BoardCategory::Club => 10,
        BoardCategory::Market => 8,
        _ => 6,
    }
}

fn fill(template: &str, rng: &mut Rng) -> String {
    let mut out = template.to_string();
    for (key, words) in [("{과목}", COURSES), ("{장소}", PLACES), ("{음식}", FOODS), ("{시간}", TIMES)]
    {
        while let Some(at) = out.find(key) {
            out.replace_range(at..at + key.len(), rng.pick::<&str>(words));
        }
    }
    out
}

// ---- the plan ----

struct CommentPlan {
    author: usize,
    anonymous: bool,
    content: String,
    likers: Vec<usize>,
    replies: Vec<(usize, bool, String)>,
}

struct PostPlan {
    board_id: i64,
    author: usize,
    anonymous: bool,
    title: String,
    content: String,
    likers: Vec<usize>,
    scrappers: Vec<usize>,
    comments: Vec<CommentPlan>,
}

/// `count` distinct students other than `except`.
fn others(rng: &mut Rng, students: usize, except: usize, count: usize) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..students).filter(|&s| s != except).collect();
    for i in (1..pool.len()).rev() {
        pool.swap(i, rng.below(i + 1));
    }
    pool.truncate(count.min(pool.len()));
    pool
}

fn plan(school_index: usize, boards: &[Board], students: usize, hot_likes: usize) -> Vec<PostPlan> {
    let mut rng = Rng(0x5EED_0000 + school_index as u64);
    let bag: Vec<&Board> = boards.iter().flat_map(|b| std::iter::repeat_n(b, weight(b.category))).collect();
    (0..POSTS)
        .map(|_| {
            let board = *rng.pick(&bag);
            let secret = board.category == BoardCategory::Secret as i32;
            let (title, content) = rng.pick(templates(board.category));
            let author = rng.below(students);
            // Most posts get a few likes; about one in twelve gets enough to be HOT.
            let like_count = if rng.chance(7) { hot_likes + rng.below(2) } else { rng.below(4) };
            let comment_count = [0, 0, 1, 1, 1, 2, 2, 3, 4, 6][rng.below(10)];
            let comments = (0..comment_count)
                .map(|_| {
                    let author = rng.below(students);
                    let replies = (0..if rng.chance(25) { 1 + rng.below(2) } else { 0 })
                        .map(|_| {
                            (rng.below(students), secret || rng.chance(75), rng.pick(REPLIES).to_string())
                        })
                        .collect();
                    let like_count = if rng.chance(20) { 1 + rng.below(2) } else { 0 };
                    CommentPlan {
                        author,
                        anonymous: secret || rng.chance(75),
                        content: fill(rng.pick::<&str>(COMMENTS), &mut rng),
                        likers: others(&mut rng, students, author, like_count),
                        replies,
                    }
                })
                .collect();
            let scrap_count = if rng.chance(15) { 1 + rng.below(2) } else { 0 };
            PostPlan {
                board_id: board.id,
                author,
                anonymous: secret || rng.chance(70),
                title: fill(title, &mut rng),
                content: fill(content, &mut rng),
                likers: others(&mut rng, students, author, like_count),
                scrappers: others(&mut rng, students, author, scrap_count),
                comments,
            }
        })
        .collect()
}

// ---- playing it ----

fn authorized<T>(token: &str, message: T) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

/// Creates the school's demo students; returns their access tokens.
async fn students(
    account: Channel,
    service_token: &SecretString,
    issuer: &TokenIssuer,
    school_index: usize,
    school_id: i64,
    email_domain: &str,
) -> anyhow::Result<Vec<String>> {
    let (prefix, nicknames) = STUDENTS[school_index % STUDENTS.len()];
    let mut created = JoinSet::new();
    for (i, nickname) in nicknames.iter().enumerate() {
        let mut client = AccountVerificationInternalServiceClient::new(account.clone());
        let login_id = format!("{prefix}{:02}", i + 1);
        let mut request = tonic::Request::new(CreateVerifiedUserRequest {
            login_id: login_id.clone(),
            password: DEMO_PASSWORD.into(),
            nickname: nickname.to_string(),
            email: format!("{login_id}@{email_domain}"),
            school_id,
        });
        request.metadata_mut().insert(SERVICE_TOKEN_HEADER, service_token.expose_secret().parse()?);
        // The demo students' addresses are made up: they are created verified, without a code.
        created.spawn(async move { (i, client.create_verified_user(request).await) });
    }
    let mut tokens = vec![String::new(); nicknames.len()];
    while let Some(joined) = created.join_next().await {
        let (i, user) = joined?;
        let user = user?.into_inner();
        let caller = Caller { user_id: user.id, school_id, role: Role::User, nickname: user.nickname };
        tokens[i] = issuer.issue(&caller)?;
    }
    Ok(tokens)
}

async fn play(
    mut board: BoardServiceClient<Channel>,
    tokens: Arc<Vec<String>>,
    post: PostPlan,
) -> anyhow::Result<()> {
    let t = |who: usize| tokens[who].as_str();
    let created = board
        .create_post(authorized(
            t(post.author),
            CreatePostRequest {
                board_id: post.board_id,
                title: post.title,
                content: post.content,
                anonymous: post.anonymous,
            },
        )?)
        .await?
        .into_inner();
    for comment in post.comments {
        let top = board
            .create_comment(authorized(
                t(comment.author),
                CreateCommentRequest {
                    post_id: created.id,
                    content: comment.content,
                    anonymous: comment.anonymous,
                    parent_id: None,
                },
            )?)
            .await?
            .into_inner();
        for (author, anonymous, content) in comment.replies {
            board
                .create_comment(authorized(
                    t(author),
                    CreateCommentRequest { post_id: created.id, content, anonymous, parent_id: Some(top.id) },
                )?)
                .await?;
        }
        for liker in comment.likers {
            board.like_comment(authorized(t(liker), LikeCommentRequest { id: top.id })?).await?;
        }
    }
    for liker in post.likers {
        board.like_post(authorized(t(liker), LikePostRequest { id: created.id })?).await?;
    }
    for scrapper in post.scrappers {
        board.scrap_post(authorized(t(scrapper), ScrapPostRequest { id: created.id })?).await?;
    }
    Ok(())
}

/// Seeds one school's students and week of posts.
pub(super) async fn seed_school(
    channels: (Channel, Channel),
    service_token: &SecretString,
    issuer: &TokenIssuer,
    school_index: usize,
    school: (i64, &str),
    boards: &[Board],
    hot_likes: usize,
) -> anyhow::Result<()> {
    let (account, board) = channels;
    let started = std::time::Instant::now();
    let tokens = students(account, service_token, issuer, school_index, school.0, school.1).await?;
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "demo students created");
    let posts = plan(school_index, boards, tokens.len(), hot_likes.min(tokens.len() - 1));
    let tokens = Arc::new(tokens);
    // Round-robin into workers; each plays its posts in order.
    let mut lanes: Vec<Vec<PostPlan>> = (0..WORKERS).map(|_| Vec::new()).collect();
    for (i, post) in posts.into_iter().enumerate() {
        lanes[i % WORKERS].push(post);
    }
    let mut workers = JoinSet::new();
    for lane in lanes {
        let client = BoardServiceClient::new(board.clone());
        let tokens = tokens.clone();
        workers.spawn(async move {
            for post in lane {
                play(client.clone(), tokens.clone(), post).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "demo posts written");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boards() -> Vec<Board> {
        [BoardCategory::General, BoardCategory::Secret, BoardCategory::Market]
            .iter()
            .enumerate()
            .map(|(i, c)| Board { id: i as i64 + 1, category: *c as i32, ..Default::default() })
            .collect()
    }

    #[test]
    fn the_plan_is_deterministic_and_keeps_the_rules() {
        let render = |p: &[PostPlan]| {
            p.iter().map(|p| format!("{}|{}|{:?}", p.title, p.content, p.likers)).collect::<Vec<_>>()
        };
        let first = plan(0, &boards(), 12, 10);
        assert_eq!(render(&first), render(&plan(0, &boards(), 12, 10)));
        assert_ne!(render(&first), render(&plan(1, &boards(), 12, 10)));
        assert_eq!(first.len(), POSTS);
        for post in &first {
            assert!(!post.title.contains('{') && !post.content.contains('{'), "{}", post.title);
            assert!(!post.likers.contains(&post.author), "nobody likes their own post");
            assert!(!post.scrappers.contains(&post.author), "nobody scraps their own post");
            if post.board_id == 2 {
                assert!(post.anonymous, "the secret board is anonymous");
            }
            for c in &post.comments {
                assert!(!c.likers.contains(&c.author));
            }
        }
        assert!(first.iter().filter(|p| p.likers.len() >= 10).count() >= 5, "some posts become HOT");
    }
}
