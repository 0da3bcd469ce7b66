//! One error store per tenant, as Mimir and Loki keep tenants apart: a request with a tenant
//! (`X-Scope-OrgID`, or the tenant bound to its token) reads and writes only
//! `<dir>/<tenant>/`, opened on first use with the projects and options of the configuration;
//! a request without one uses the default store (single-tenant installs see no change).

use crate::{ErrorHooks, ErrorStore, Project, StoreOptions};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// The default store and the tenants' stores.
pub struct TenantStores {
    default: Arc<ErrorStore>,
    dir: PathBuf,
    opts: StoreOptions,
    projects: Vec<Project>,
    stores: Mutex<HashMap<String, Arc<ErrorStore>>>,
    hooks: RwLock<Option<Arc<dyn ErrorHooks>>>,
}

/// Why a tenant id is refused (Mimir's rules: at most 150 characters of `A-Za-z0-9!-_.*'()`,
/// not `.` or `..`), or `None` when it is fine.
pub fn invalid_tenant(id: &str) -> Option<String> {
    if id.len() > 150 {
        return Some(format!(
            "tenant ID is too long: max 150 characters, got {}",
            id.len()
        ));
    }
    if id == "." || id == ".." {
        return Some(format!("tenant ID is '.' or '..': {id:?}"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "!-_.*'()".contains(*c)))
    {
        return Some(format!(
            "tenant ID {id:?} contains unsupported character {c:?}"
        ));
    }
    None
}

impl TenantStores {
    /// `dir` holds one directory per tenant.
    pub fn new(
        default: Arc<ErrorStore>,
        dir: PathBuf,
        opts: StoreOptions,
        projects: Vec<Project>,
    ) -> TenantStores {
        TenantStores {
            default,
            dir,
            opts,
            projects,
            stores: Mutex::new(HashMap::new()),
            hooks: RwLock::new(None),
        }
    }

    /// The store of tenant-less requests.
    pub fn default_store(&self) -> &Arc<ErrorStore> {
        &self.default
    }

    /// The store of `tenant` (opened and remembered on first use), or the default one.
    /// An invalid tenant id is `InvalidInput`.
    pub fn get(&self, tenant: Option<&str>) -> io::Result<Arc<ErrorStore>> {
        let Some(t) = tenant else {
            return Ok(self.default.clone());
        };
        if let Some(why) = invalid_tenant(t) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        }
        let mut stores = self.stores.lock();
        if let Some(s) = stores.get(t) {
            return Ok(s.clone());
        }
        let s = ErrorStore::open(&self.dir.join(t), self.opts.clone(), self.projects.clone())?;
        if let Some(h) = self.hooks.read().clone() {
            s.set_hooks(h);
        }
        stores.insert(t.to_string(), s.clone());
        Ok(s)
    }

    /// Installs `hooks` on every store, now and when a tenant's store opens later.
    pub fn set_hooks(&self, hooks: Arc<dyn ErrorHooks>) {
        *self.hooks.write() = Some(hooks.clone());
        self.default.set_hooks(hooks.clone());
        for s in self.stores.lock().values() {
            s.set_hooks(hooks.clone());
        }
    }

    /// Every open store (the default first), e.g. for retention.
    pub fn all(&self) -> Vec<Arc<ErrorStore>> {
        let mut out = vec![self.default.clone()];
        out.extend(self.stores.lock().values().cloned());
        out
    }

    /// The tenants' stores with their tenant (None: the default store).
    pub fn named(&self) -> Vec<(Option<String>, Arc<ErrorStore>)> {
        let mut out = vec![(None, self.default.clone())];
        out.extend(
            self.stores
                .lock()
                .iter()
                .map(|(t, s)| (Some(t.clone()), s.clone())),
        );
        out
    }

    /// Opens the stores of the tenants found on disk (so retention reaches them after a restart).
    pub fn open_existing(&self) -> io::Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut n = 0;
        for e in entries.flatten() {
            if let Some(name) = e.file_name().to_str() {
                if e.path().is_dir() && invalid_tenant(name).is_none() {
                    self.get(Some(name))?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        assert!(invalid_tenant("team-a").is_none());
        assert!(invalid_tenant("a.b_c(1)").is_none());
        assert!(invalid_tenant("..").is_some());
        assert!(invalid_tenant("a/b").is_some());
        assert!(invalid_tenant(&"x".repeat(151)).is_some());
    }

    #[test]
    fn stores_apart() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions::default();
        let def = ErrorStore::open(&dir.path().join("default"), opts.clone(), vec![]).unwrap();
        let t = TenantStores::new(def.clone(), dir.path().join("tenants"), opts, vec![]);
        let a = t.get(Some("a")).unwrap();
        assert!(Arc::ptr_eq(&a, &t.get(Some("a")).unwrap()));
        assert!(!Arc::ptr_eq(&a, &t.get(Some("b")).unwrap()));
        assert!(Arc::ptr_eq(&def, &t.get(None).unwrap()));
        assert_eq!(
            t.get(Some("../x")).err().map(|e| e.kind()),
            Some(io::ErrorKind::InvalidInput)
        );
        assert_eq!(t.all().len(), 3);
    }
}
