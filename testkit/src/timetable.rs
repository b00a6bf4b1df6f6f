//! Reading a whole semester's catalog through `ListLectures`, page by page, as the timetable
//! tests and benchmarks need it before they pick lectures.

use campus_proto::timetable::v1::timetable_service_client::TimetableServiceClient;
use campus_proto::timetable::v1::{Lecture, ListLecturesRequest};
use tonic::transport::Channel;

/// Every lecture of `year`'s `semester` in search order, each page asked for as `authorize`
/// makes the request (a caller's token, a school).
pub async fn all_lectures(
    client: &TimetableServiceClient<Channel>,
    year: i32,
    semester: i32,
    authorize: impl Fn(ListLecturesRequest) -> tonic::Request<ListLecturesRequest>,
) -> Result<Vec<Lecture>, tonic::Status> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request =
            ListLecturesRequest { year, semester, page_size: 100, page_token, ..Default::default() };
        let page = client.clone().list_lectures(authorize(request)).await?.into_inner();
        all.extend(page.lectures);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}
