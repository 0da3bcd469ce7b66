//! Profiles of pharos itself in Go's pprof format (gzipped protobuf), readable by
//! `go tool pprof` and speedscope:
//!
//! - `GET /debug/pprof/profile?seconds=N` — CPU profile, sampled at 99 Hz for N seconds (default
//!   30, at most 300). Sampling is the `pprof` crate's (SIGPROF timer + stack unwinding in the
//!   signal handler); it is used without its codec features because those pull a second prost
//!   version and need `protoc`-free codegen of their own — the profile message is encoded here
//!   with the workspace's prost instead (a dozen derive structs of `profile.proto`).
//! - `GET /debug/pprof/heap` — allocation profile. The process' global allocator is the system
//!   allocator wrapped in a counter that, every ~512 KiB allocated (Go's default rate), records
//!   the stack of the allocation that crossed the mark; the profile's `alloc_space` and
//!   `alloc_objects` are those samples scaled by the rate. No jemalloc: its profiling needs a
//!   C build with `--enable-prof` and would replace the allocator's behaviour, while this
//!   wrapper costs one thread-local subtraction per allocation.

use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::collections::HashMap;

/// `profile.proto` of github.com/google/pprof, the fields pharos writes.
pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "3")]
        pub address: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
    }
}

/// One symbolized frame: function name, file, line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    pub name: String,
    pub file: String,
    pub line: u32,
}

/// Builds a `Profile`, interning strings, functions and locations.
pub struct Builder {
    p: proto::Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(String, String), u64>,
    locations: HashMap<Frame, u64>,
}

impl Builder {
    /// `sample_types` are (type, unit) pairs, e.g. ("cpu", "nanoseconds").
    pub fn new(sample_types: &[(&str, &str)], period: (&str, &str, i64)) -> Builder {
        let mut b = Builder {
            p: proto::Profile::default(),
            strings: HashMap::new(),
            functions: HashMap::new(),
            locations: HashMap::new(),
        };
        b.str("");
        for (t, u) in sample_types {
            let vt = proto::ValueType {
                r#type: b.str(t),
                unit: b.str(u),
            };
            b.p.sample_type.push(vt);
        }
        b.p.period_type = Some(proto::ValueType {
            r#type: b.str(period.0),
            unit: b.str(period.1),
        });
        b.p.period = period.2;
        b
    }

    fn str(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.p.string_table.len() as i64;
        self.p.string_table.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn location(&mut self, f: &Frame) -> u64 {
        if let Some(&id) = self.locations.get(f) {
            return id;
        }
        let key = (f.name.clone(), f.file.clone());
        let fid = match self.functions.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.p.function.len() as u64 + 1;
                let name = self.str(&f.name);
                let filename = self.str(&f.file);
                self.p.function.push(proto::Function {
                    id,
                    name,
                    system_name: name,
                    filename,
                });
                self.functions.insert(key, id);
                id
            }
        };
        let id = self.p.location.len() as u64 + 1;
        self.p.location.push(proto::Location {
            id,
            address: 0,
            line: vec![proto::Line {
                function_id: fid,
                line: i64::from(f.line),
            }],
        });
        self.locations.insert(f.clone(), id);
        id
    }

    /// Adds a sample; `stack` is leaf first.
    pub fn sample(&mut self, stack: &[Frame], values: Vec<i64>, labels: &[(&str, &str)]) {
        let location_id = stack.iter().map(|f| self.location(f)).collect();
        let label = labels
            .iter()
            .map(|(k, v)| proto::Label {
                key: self.str(k),
                str: self.str(v),
            })
            .collect();
        self.p.sample.push(proto::Sample {
            location_id,
            value: values,
            label,
        });
    }

    /// The encoded, gzipped profile.
    pub fn finish(mut self, time_nanos: i64, duration_nanos: i64, default_type: &str) -> Vec<u8> {
        use std::io::Write as _;
        self.p.time_nanos = time_nanos;
        self.p.duration_nanos = duration_nanos;
        self.p.default_sample_type = self.str(default_type);
        let raw = prost::Message::encode_to_vec(&self.p);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing into a Vec cannot fail.
        let _ = gz.write_all(&raw);
        gz.finish().unwrap_or_default()
    }
}

/// `/debug/pprof/profile` and `/debug/pprof/heap`.
pub fn routes() -> axum::Router {
    axum::Router::new()
        .route("/debug/pprof/profile", get(cpu))
        .route("/debug/pprof/heap", get(heap))
        .route("/debug/pprof/allocs", get(heap))
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn profile_response(body: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// CPU sampling frequency (Hz); 99 rather than 100 to avoid lockstep with periodic work.
const CPU_HZ: i32 = 99;

async fn cpu(Query(q): Query<HashMap<String, String>>) -> Response {
    let seconds = match q.get("seconds").map(|s| s.trim().parse::<f64>()) {
        None => 30.0,
        Some(Ok(s)) if s > 0.0 && s <= 300.0 => s,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "seconds must be a number in (0, 300]\n",
            )
                .into_response()
        }
    };
    let res = tokio::task::spawn_blocking(move || cpu_profile(seconds)).await;
    match res {
        Ok(Ok(body)) => profile_response(body, "profile"),
        Ok(Err((code, msg))) => (code, format!("{msg}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

fn cpu_profile(seconds: f64) -> Result<Vec<u8>, (StatusCode, String)> {
    let start = now_ns();
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(CPU_HZ)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| {
            (
                StatusCode::CONFLICT,
                format!("cannot start the CPU profiler (is another profile running?): {e}"),
            )
        })?;
    std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
    let report = guard
        .report()
        .build()
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    drop(guard);
    let period = 1_000_000_000 / i64::from(CPU_HZ);
    let mut b = Builder::new(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        ("cpu", "nanoseconds", period),
    );
    for (frames, count) in &report.data {
        let mut stack: Vec<Frame> = frames
            .frames
            .iter()
            .flatten()
            .map(|s| Frame {
                name: s.name(),
                file: s.filename().into_owned(),
                line: s.lineno(),
            })
            .collect();
        if stack.is_empty() {
            // A tick whose stack could not be unwound (e.g. inside a blocklisted library): its
            // time still counts, under one frame that says so, as perf does.
            stack.push(Frame {
                name: "[unknown]".to_string(),
                file: String::new(),
                line: 0,
            });
        }
        let count = *count as i64;
        let thread = frames.thread_name_or_id();
        b.sample(&stack, vec![count, count * period], &[("thread", &thread)]);
    }
    Ok(b.finish(start, now_ns() - start, "cpu"))
}

async fn heap() -> Response {
    match tokio::task::spawn_blocking(heap_profile).await {
        Ok(body) => profile_response(body, "heap"),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// Bytes allocated between two heap samples (Go's `runtime.MemProfileRate` default).
pub const HEAP_SAMPLE_BYTES: i64 = 512 * 1024;
/// Deepest stack kept for a heap sample.
const MAX_STACK: usize = 64;

/// The global allocator: the system allocator plus sampled stacks of allocations.
pub struct SamplingAlloc;

// The allocator underneath: glibc's, or mimalloc with `--features pharos/mimalloc`
// (bench/README.md compares them).
#[cfg(feature = "mimalloc")]
use mimalloc::MiMalloc as Inner;
#[cfg(not(feature = "mimalloc"))]
use std::alloc::System as Inner;

#[global_allocator]
static ALLOC: SamplingAlloc = SamplingAlloc;

/// Sampled stacks (instruction pointers, leaf first) → (sampled allocations, their bytes).
type Samples = HashMap<Vec<usize>, (i64, i64)>;
static SAMPLES: parking_lot::Mutex<Option<Samples>> = parking_lot::const_mutex(None);

thread_local! {
    static COUNTDOWN: Cell<i64> = const { Cell::new(HEAP_SAMPLE_BYTES) };
    /// Set while this thread records a sample: the allocations the recording makes are not
    /// sampled themselves.
    static IN_SAMPLER: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for SamplingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = Inner.alloc(layout);
        if !p.is_null() {
            account(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = Inner.alloc_zeroed(layout);
        if !p.is_null() {
            account(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Inner.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = Inner.realloc(ptr, layout, new_size);
        if !p.is_null() && new_size > layout.size() {
            account(new_size - layout.size());
        }
        p
    }
}

fn account(size: usize) {
    let crossed = COUNTDOWN
        .try_with(|c| {
            let left = c.get() - size as i64;
            if left <= 0 {
                c.set(left.rem_euclid(HEAP_SAMPLE_BYTES) + 1);
                true
            } else {
                c.set(left);
                false
            }
        })
        .unwrap_or(false);
    if crossed {
        sample(size);
    }
}

#[inline(never)]
fn sample(size: usize) {
    let entered = IN_SAMPLER.try_with(|f| !f.replace(true)).unwrap_or(false);
    if !entered {
        return;
    }
    let mut ips = [0usize; MAX_STACK];
    let mut n = 0;
    // SAFETY: the closure neither allocates through a path that samples again (IN_SAMPLER is
    // set) nor unwinds; `trace_unsynchronized` only requires that no other thread runs it
    // concurrently with symbolization of the same frames, which holds (we keep raw IPs).
    unsafe {
        backtrace::trace_unsynchronized(|f| {
            ips[n] = f.ip() as usize;
            n += 1;
            n < MAX_STACK
        });
    }
    // Each sample stands for HEAP_SAMPLE_BYTES allocated (or its own size, when larger).
    let weight = (size as i64).max(HEAP_SAMPLE_BYTES);
    let objects = weight / (size as i64).max(1);
    {
        let mut g = SAMPLES.lock();
        let e = g
            .get_or_insert_with(HashMap::new)
            .entry(ips[..n].to_vec())
            .or_insert((0, 0));
        e.0 += objects;
        e.1 += weight;
    }
    let _ = IN_SAMPLER.try_with(|f| f.set(false));
}

/// Frames of the sampler itself, dropped from the top of each stack.
fn is_sampler_frame(name: &str) -> bool {
    name.starts_with("backtrace::")
        || name.contains("pprof::sample")
        || name.contains("pprof::account")
        || name.contains("SamplingAlloc")
        || name.starts_with("__rust_")
        || name.starts_with("__rdl_")
        || name.starts_with("__rg_")
        || name.starts_with("alloc::alloc::")
        || name.starts_with("std::thread::local::")
        || name.contains("LocalKey")
}

fn heap_profile() -> Vec<u8> {
    let snapshot: Vec<(Vec<usize>, (i64, i64))> = {
        // Copy under the lock; symbolization (slow, allocating) happens outside it. The copy
        // allocates: with sampling on, an allocation that crosses the sampling period would
        // take SAMPLES again in `sample` on this thread and deadlock every allocating thread.
        let was_sampling = IN_SAMPLER.try_with(|f| f.replace(true)).unwrap_or(true);
        let copy = {
            let g = SAMPLES.lock();
            g.as_ref()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default()
        };
        let _ = IN_SAMPLER.try_with(|f| f.set(was_sampling));
        copy
    };
    let mut cache: HashMap<usize, Vec<Frame>> = HashMap::new();
    let mut b = Builder::new(
        &[("alloc_objects", "count"), ("alloc_space", "bytes")],
        ("space", "bytes", HEAP_SAMPLE_BYTES),
    );
    for (ips, (objects, bytes)) in snapshot {
        let mut stack: Vec<Frame> = Vec::new();
        for ip in ips {
            let frames = cache.entry(ip).or_insert_with(|| symbolize(ip));
            stack.extend(frames.iter().cloned());
        }
        let skip = stack
            .iter()
            .position(|f| !is_sampler_frame(&f.name))
            .unwrap_or(0);
        b.sample(&stack[skip..], vec![objects, bytes], &[]);
    }
    let now = now_ns();
    b.finish(now, 0, "alloc_space")
}

fn symbolize(ip: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |s| {
        out.push(Frame {
            name: s
                .name()
                .map(|n| format!("{n:#}"))
                .unwrap_or_else(|| format!("{ip:#x}")),
            file: s
                .filename()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            line: s.lineno().unwrap_or(0),
        });
    });
    if out.is_empty() {
        out.push(Frame {
            name: format!("{ip:#x}"),
            file: String::new(),
            line: 0,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn decode(gz: &[u8]) -> proto::Profile {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        <proto::Profile as prost::Message>::decode(raw.as_slice()).unwrap()
    }

    #[test]
    fn builder_interns_and_round_trips() {
        let f = |n: &str| Frame {
            name: n.into(),
            file: "a.rs".into(),
            line: 3,
        };
        let mut b = Builder::new(&[("samples", "count")], ("cpu", "nanoseconds", 10));
        b.sample(&[f("leaf"), f("main")], vec![2], &[("thread", "t1")]);
        b.sample(&[f("other"), f("main")], vec![5], &[("thread", "t1")]);
        let p = decode(&b.finish(1, 2, "samples"));
        assert_eq!(p.string_table[0], "");
        assert_eq!(p.sample.len(), 2);
        assert_eq!(p.location.len(), 3, "main is shared");
        assert_eq!(p.function.len(), 3);
        let name = |loc: u64| {
            let l = &p.location[(loc - 1) as usize];
            let func = &p.function[(l.line[0].function_id - 1) as usize];
            p.string_table[func.name as usize].clone()
        };
        assert_eq!(name(p.sample[1].location_id[0]), "other");
        assert_eq!(name(p.sample[1].location_id[1]), "main");
        assert_eq!(p.sample[1].value, vec![5]);
        assert_eq!(p.string_table[p.default_sample_type as usize], "samples");
    }

    #[test]
    fn heap_profile_has_samples_of_this_test() {
        // The test binary's allocator is the sampling one too: allocate well past the rate.
        let mut keep = Vec::new();
        for _ in 0..64 {
            keep.push(vec![1u8; HEAP_SAMPLE_BYTES as usize / 4]);
        }
        let p = decode(&heap_profile());
        assert!(!p.sample.is_empty());
        let total: i64 = p.sample.iter().map(|s| s.value[1]).sum();
        assert!(total >= HEAP_SAMPLE_BYTES * 8, "sampled bytes {total}");
        assert!(keep.len() == 64);
    }
}
