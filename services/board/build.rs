// `sqlx::migrate!` embeds the migrations at compile time: a migration added to the folder must
// rebuild the crate (as `sqlx migrate build-script` writes it).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
