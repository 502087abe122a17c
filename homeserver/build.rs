//! Rebuilds the server when a migration changes: the migrations are embedded at compile time
//! (`embed_migrations!` in `db`), and cargo does not otherwise notice a new migration folder.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
