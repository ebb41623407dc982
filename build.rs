// Migrations are embedded with `embed_migrations!`; without this, new migration folders
// would not trigger a rebuild.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
