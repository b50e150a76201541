//! The recording service: writer threads that keep file I/O off the packet
//! path. A [`CallRecorder`] batches a call's stereo frames into blocks and
//! hands each full block to its writer thread through a channel; the thread
//! appends it, syncs the header every `header_sync`, and gives the empty block
//! back, so a call in steady state allocates nothing. Knows media frames and
//! files only, not what a call is.

use std::collections::HashMap;
use std::mem;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::repair::repair;
use super::wav::{CHANNELS, ClosedRecording, RecordingSummary, WavRecorder};
use super::{RecordingConfig, RecordingError, Result};
use crate::media::{Frame, SAMPLES_PER_FRAME, StereoSink};

/// Frames per block handed to a writer thread: 25 × 20 ms = 500 ms.
pub(crate) const FRAMES_PER_BLOCK: usize = 25;
/// Interleaved samples in one block.
pub(crate) const BLOCK_SAMPLES: usize = FRAMES_PER_BLOCK * SAMPLES_PER_FRAME * CHANNELS as usize;
/// Commands a writer thread may have queued before recorders hold their
/// blocks back (growing them) instead of queueing more: with 500 ms blocks,
/// minutes of audio for a thread's share of calls.
const COMMAND_QUEUE_LEN: usize = 4096;
/// Empty blocks waiting to be reused by one recorder.
const SPARE_BLOCKS: usize = 4;
/// How long a writer thread lets commands gather after each batch (see
/// `run_writer`). Also the most a finished call waits for its recording
/// to be closed beyond the write itself.
const BATCH_PAUSE: Duration = Duration::from_millis(20);
/// Writer threads are named this plus their index.
const THREAD_NAME_PREFIX: &str = "hotline-rec-";
/// The thread that creates the files of [`RecordingService::open_async`].
const CREATOR_THREAD_NAME: &str = "hotline-rec-new";
/// Files waiting to be created before `open_async` callers wait.
const CREATE_QUEUE_LEN: usize = 1024;

/// A file for the creator thread to make, and who waits for it.
struct CreateRequest {
    path: PathBuf,
    reply: oneshot::Sender<Result<WavRecorder>>,
}

/// Where a writer thread sends a finished recording's summary.
type Reply = oneshot::Sender<Result<RecordingSummary>>;

/// What a recorder (or the service) tells a writer thread.
enum Command {
    /// Take over this freshly created file.
    Open {
        id: u64,
        recorder: Box<WavRecorder>,
        spares: SyncSender<Vec<i16>>,
    },
    /// Append these interleaved samples.
    Block { id: u64, samples: Vec<i16> },
    /// Append the last samples, finalise, hash, reply (if anyone listens).
    Finish {
        id: u64,
        samples: Vec<i16>,
        reply: Option<Reply>,
    },
    /// Finish every open file and stop.
    Shutdown,
}

/// The writer threads and the files spread over them.
pub struct RecordingService {
    root: PathBuf,
    writers: Vec<Writer>,
    /// Hands files to create to the creator thread (`None` if the OS
    /// refused to start it: `open_async` then creates on the caller's
    /// thread).
    creator: Option<(tokio::sync::mpsc::Sender<CreateRequest>, JoinHandle<()>)>,
    next_writer: AtomicUsize,
    next_id: AtomicU64,
}

struct Writer {
    commands: SyncSender<Command>,
    thread: JoinHandle<()>,
}

impl std::fmt::Debug for RecordingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingService")
            .field("root", &self.root)
            .field("writer_threads", &self.writers.len())
            .finish_non_exhaustive()
    }
}

impl RecordingService {
    /// Starts `config.writer_threads` writer threads (at least one). A thread
    /// the OS refuses is logged and left out; with none, `open` fails with
    /// [`RecordingError::WriterGone`].
    pub fn start(config: &RecordingConfig) -> Self {
        if config.writer_threads == 0 {
            tracing::warn!("recording.writer_threads is 0; starting one writer thread");
        }
        let threads = config.writer_threads.max(1);
        let mut writers = Vec::with_capacity(threads);
        for index in 0..threads {
            let (commands, inbox) = mpsc::sync_channel(COMMAND_QUEUE_LEN);
            let header_sync = config.header_sync;
            let spawned = thread::Builder::new()
                .name(format!("{THREAD_NAME_PREFIX}{index}"))
                .spawn(move || run_writer(&inbox, header_sync));
            match spawned {
                Ok(thread) => writers.push(Writer { commands, thread }),
                Err(error) => {
                    tracing::error!(%error, index, "cannot start a recording writer thread");
                }
            }
        }
        let (requests, inbox) = tokio::sync::mpsc::channel(CREATE_QUEUE_LEN);
        let creator = match thread::Builder::new()
            .name(CREATOR_THREAD_NAME.to_string())
            .spawn(move || run_creator(inbox))
        {
            Ok(thread) => Some((requests, thread)),
            Err(error) => {
                tracing::error!(%error, "cannot start the recording creator thread");
                None
            }
        };
        Self {
            root: config.root.clone(),
            writers,
            creator,
            next_writer: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        }
    }

    /// The directory relative recording paths are created under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the recording at `path` (relative paths are taken under the
    /// root; parent directories are created; an existing file is refused) and
    /// hands it to a writer thread. Does the few blocking syscalls of creating
    /// the file on the caller's thread, so that failure is reported here.
    pub fn open(&self, path: PathBuf) -> Result<CallRecorder> {
        let path = self.root.join(path);
        if self.writers.is_empty() {
            return Err(RecordingError::WriterGone { path });
        }
        self.adopt(WavRecorder::create(&path)?)
    }

    /// Like [`open`](Self::open), but the file is created on the service's
    /// creator thread, so the caller never blocks on the filesystem. One
    /// thread creates every file: creations in one directory take its lock
    /// in turn instead of spinning on it from many threads.
    pub async fn open_async(&self, path: PathBuf) -> Result<CallRecorder> {
        let path = self.root.join(path);
        if self.writers.is_empty() {
            return Err(RecordingError::WriterGone { path });
        }
        let Some((requests, _)) = &self.creator else {
            return self.adopt(WavRecorder::create(&path)?);
        };
        let (reply, created) = oneshot::channel();
        let request = CreateRequest {
            path: path.clone(),
            reply,
        };
        if requests.send(request).await.is_err() {
            return Err(RecordingError::WriterGone { path });
        }
        let recorder = created
            .await
            .map_err(|_| RecordingError::WriterGone { path })??;
        self.adopt(recorder)
    }

    /// Hands a freshly created file to a writer thread.
    fn adopt(&self, recorder: WavRecorder) -> Result<CallRecorder> {
        let path = recorder.path().to_path_buf();
        let writer =
            &self.writers[self.next_writer.fetch_add(1, Ordering::Relaxed) % self.writers.len()];
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (spares, spares_back) = mpsc::sync_channel(SPARE_BLOCKS);
        writer
            .commands
            .send(Command::Open {
                id,
                recorder: Box::new(recorder),
                spares,
            })
            .map_err(|_| RecordingError::WriterGone { path: path.clone() })?;
        tracing::debug!(path = %path.display(), "recording opened");
        Ok(CallRecorder {
            id,
            path,
            commands: writer.commands.clone(),
            block: Vec::with_capacity(BLOCK_SAMPLES),
            spares: spares_back,
            held_back: false,
            writer_gone: false,
            finished: false,
        })
    }

    /// Finishes every file still open and joins the writer threads. Blocks
    /// until the queued blocks are written; recorders used after this get
    /// [`RecordingError::WriterGone`] from `finish`.
    pub fn shutdown(self) {
        if let Some((requests, thread)) = self.creator {
            drop(requests);
            if thread.join().is_err() {
                tracing::error!("the recording creator thread panicked");
            }
        }
        for writer in &self.writers {
            // A thread that is already gone has nothing left to finish.
            let _ = writer.commands.send(Command::Shutdown);
        }
        for writer in self.writers {
            let name = writer.thread.thread().name().map(str::to_owned);
            if writer.thread.join().is_err() {
                tracing::error!(thread = ?name, "a recording writer thread panicked");
            }
        }
    }
}

/// One call's recording, fed from the media session. Dropping it without
/// [`finish`](Self::finish) still finalises the file on its writer thread.
pub struct CallRecorder {
    id: u64,
    path: PathBuf,
    commands: SyncSender<Command>,
    /// The block being filled; capacity [`BLOCK_SAMPLES`].
    block: Vec<i16>,
    /// Empty blocks coming back from the writer thread.
    spares: Receiver<Vec<i16>>,
    /// The writer's queue was full at the last hand-over (logged once).
    held_back: bool,
    writer_gone: bool,
    finished: bool,
}

impl std::fmt::Debug for CallRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRecorder")
            .field("path", &self.path)
            .field("buffered_samples", &self.block.len())
            .finish_non_exhaustive()
    }
}

impl CallRecorder {
    /// Where the recording is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands over the last partial block and asks the writer thread to
    /// finalise the header, `fsync` and hash the file.
    pub fn finish(mut self) -> impl Future<Output = Result<RecordingSummary>> + Send + 'static {
        let (reply, summary) = oneshot::channel();
        let sent = self.send_finish(Some(reply));
        let path = self.path.clone();
        async move {
            if !sent {
                return Err(RecordingError::WriterGone { path });
            }
            summary
                .await
                .map_err(|_| RecordingError::WriterGone { path })?
        }
    }

    /// Sends the current block to the writer without blocking. If the
    /// writer's queue is full the block is kept and grows (the only case that
    /// allocates) until the next frame tries again.
    fn hand_over_block(&mut self) {
        if self.writer_gone {
            self.block.clear();
            return;
        }
        let samples = mem::take(&mut self.block);
        match self.commands.try_send(Command::Block {
            id: self.id,
            samples,
        }) {
            Ok(()) => {
                self.held_back = false;
                self.block = self
                    .spares
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BLOCK_SAMPLES));
            }
            Err(TrySendError::Full(command)) => {
                self.block = command.into_samples();
                if !self.held_back {
                    self.held_back = true;
                    tracing::warn!(path = %self.path.display(), "recording writer is behind; holding samples back");
                }
            }
            Err(TrySendError::Disconnected(command)) => {
                self.block = command.into_samples();
                self.block.clear();
                self.writer_gone = true;
                tracing::warn!(path = %self.path.display(), "recording writer is gone; dropping samples");
            }
        }
    }

    /// Sends the last samples and the finish command; false if the writer is
    /// gone. Waits only if the writer's queue is full.
    fn send_finish(&mut self, reply: Option<Reply>) -> bool {
        self.finished = true;
        let samples = mem::take(&mut self.block);
        self.commands
            .send(Command::Finish {
                id: self.id,
                samples,
                reply,
            })
            .is_ok()
    }
}

impl StereoSink for CallRecorder {
    fn push_frame(&mut self, left: &Frame, right: &Frame) {
        // Grow once, then interleave into the new slice: no per-sample
        // capacity check, so the loop vectorises.
        let start = self.block.len();
        self.block.resize(start + 2 * SAMPLES_PER_FRAME, 0);
        for ((pair, &l), &r) in self.block[start..].chunks_exact_mut(2).zip(left).zip(right) {
            pair[0] = l;
            pair[1] = r;
        }
        if self.block.len() >= BLOCK_SAMPLES {
            self.hand_over_block();
        }
    }
}

impl Drop for CallRecorder {
    fn drop(&mut self) {
        if !self.finished && !self.send_finish(None) {
            tracing::warn!(path = %self.path.display(), "recording dropped after its writer stopped");
        }
    }
}

impl Command {
    /// The samples a block command carried (empty for other commands).
    fn into_samples(self) -> Vec<i16> {
        match self {
            Command::Block { samples, .. } | Command::Finish { samples, .. } => samples,
            Command::Open { .. } | Command::Shutdown => Vec::new(),
        }
    }
}

/// When a file's header is due to be synced (sans-IO: the time comes in).
#[derive(Debug, Clone, Copy)]
struct HeaderSync {
    every: Duration,
    last: Instant,
    /// Samples were appended since `last`.
    pending: bool,
}

impl HeaderSync {
    fn new(every: Duration, now: Instant) -> Self {
        Self {
            every,
            last: now,
            pending: false,
        }
    }

    fn appended(&mut self) {
        self.pending = true;
    }

    fn is_due(&self, now: Instant) -> bool {
        self.pending && now.saturating_duration_since(self.last) >= self.every
    }

    fn synced(&mut self, now: Instant) {
        self.last = now;
        self.pending = false;
    }

    /// How long until a sync is due, if one is pending.
    fn due_in(&self, now: Instant) -> Option<Duration> {
        self.pending
            .then(|| (self.last + self.every).saturating_duration_since(now))
    }
}

/// A file owned by a writer thread.
struct OpenFile {
    recorder: Box<WavRecorder>,
    spares: SyncSender<Vec<i16>>,
    header: HeaderSync,
    /// The first write error; later blocks are dropped and `finish` reports it.
    failure: Option<RecordingError>,
}

impl OpenFile {
    fn append(&mut self, samples: &[i16]) {
        if self.failure.is_some() || samples.is_empty() {
            return;
        }
        match self.recorder.append(samples) {
            Ok(()) => self.header.appended(),
            Err(error) => self.fail(error),
        }
    }

    fn sync_if_due(&mut self, now: Instant) {
        if self.failure.is_none() && self.header.is_due(now) {
            match self.recorder.sync_header() {
                Ok(()) => self.header.synced(now),
                Err(error) => self.fail(error),
            }
        }
    }

    fn fail(&mut self, error: RecordingError) {
        tracing::error!(path = %self.recorder.path().display(), %error, "recording write failed; later samples are dropped");
        self.failure = Some(error);
    }

    /// Gives an emptied block back to its recorder (dropped if it has enough).
    fn recycle(&self, mut samples: Vec<i16>) {
        samples.clear();
        let _ = self.spares.try_send(samples);
    }

    /// Writes the final header (see [`ClosedRecording`]); a file that
    /// failed earlier is repaired and its failure returned.
    fn close(self) -> Result<ClosedRecording> {
        let Some(failure) = self.failure else {
            return self.recorder.close();
        };
        // The header may not match what reached the disk: make it playable.
        let path = self.recorder.path().to_path_buf();
        drop(self.recorder);
        if let Err(error) = repair(&path) {
            tracing::error!(path = %path.display(), %error, "cannot repair a failed recording");
        }
        Err(failure)
    }
}

/// The creator thread: makes each requested file; returns when the
/// service is gone.
fn run_creator(mut inbox: tokio::sync::mpsc::Receiver<CreateRequest>) {
    while let Some(CreateRequest { path, reply }) = inbox.blocking_recv() {
        // A caller that went away drops the file's recorder, which closes it.
        let _ = reply.send(WavRecorder::create(path));
    }
}

/// The loop of one writer thread; returns when told to shut down or when
/// every sender is gone, after finishing the files still open.
///
/// It waits for the first command, takes every command queued behind it,
/// syncs the headers that are due, and then pauses for [`BATCH_PAUSE`]
/// before waiting again: while it pauses, recorders queue their blocks
/// without waking it, so a thread serving hundreds of calls wakes a few
/// dozen times a second instead of once per block.
fn run_writer(inbox: &Receiver<Command>, header_sync: Duration) {
    let mut files: HashMap<u64, OpenFile> = HashMap::new();
    let mut finishing = Vec::new();
    'serve: loop {
        let now = Instant::now();
        let next_sync = files
            .values()
            .filter_map(|file| file.header.due_in(now))
            .min();
        let received = match next_sync {
            Some(wait) => inbox.recv_timeout(wait),
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let mut stop = false;
        match received {
            Ok(command) => {
                stop = handle(&mut files, &mut finishing, command, header_sync).is_break();
                while !stop {
                    match inbox.try_recv() {
                        Ok(command) => {
                            stop =
                                handle(&mut files, &mut finishing, command, header_sync).is_break();
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => stop = true,
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => stop = true,
        }
        finish_together(&mut finishing);
        if stop {
            break 'serve;
        }
        let now = Instant::now();
        for file in files.values_mut() {
            file.sync_if_due(now);
        }
        thread::sleep(BATCH_PAUSE);
    }
    // The files still open are finished like a batch: one syncfs for all.
    finishing.extend(files.drain().map(|(_, file)| (file, None)));
    finish_together(&mut finishing);
}

/// Closes the batch's finished files, makes them durable together and
/// answers for each. One `syncfs` per filesystem does for a batch what an
/// `fsync` per file did for each: on a busy hotline a batch holds dozens of
/// files, and every `fsync` was a disk request and a wait of its own (on a
/// virtual disk, an exit to the host each), which cost more than writing
/// the files. A batch of one, or a filesystem that refuses `syncfs`, gets
/// the plain `fsync`.
fn finish_together(finishing: &mut Vec<(OpenFile, Option<Reply>)>) {
    let closed: Vec<_> = finishing
        .drain(..)
        .map(|(file, reply)| {
            let closed = file.close().map(|closed| {
                let device = device_of(&closed);
                (closed, device)
            });
            (closed, reply)
        })
        .collect();
    let durable = sync_filesystems(
        closed
            .iter()
            .filter_map(|(closed, _)| closed.as_ref().ok())
            .filter_map(|(closed, device)| Some(((*device)?, closed))),
    );
    for (result, reply) in closed {
        let summary = result.and_then(|(closed, device)| {
            if !device.is_some_and(|device| durable.contains(&device)) {
                closed.sync()?;
            }
            closed.summarise()
        });
        deliver(summary, reply);
    }
}

/// The filesystem a closed recording is on (`None` if `fstat` fails: such
/// a file is then `fsync`ed on its own).
fn device_of(closed: &ClosedRecording) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    closed.file().metadata().ok().map(|meta| meta.dev())
}

/// `syncfs` once for each filesystem (device) holding two or more of the
/// files; returns the filesystems made durable. A `syncfs` also makes the
/// new files' directory entries durable, which an `fsync` of each file
/// alone did not.
#[cfg(target_os = "linux")]
fn sync_filesystems<'a>(files: impl Iterator<Item = (u64, &'a ClosedRecording)>) -> Vec<u64> {
    let mut by_device: HashMap<u64, (&ClosedRecording, usize)> = HashMap::new();
    for (device, file) in files {
        by_device.entry(device).or_insert((file, 0)).1 += 1;
    }
    by_device
        .into_iter()
        .filter(|(_, (_, files))| *files >= 2)
        .filter_map(|(device, (file, _))| match rustix::fs::syncfs(file.file()) {
            Ok(()) => Some(device),
            Err(error) => {
                tracing::warn!(path = %file.path().display(), %error, "syncfs failed; syncing recordings one by one");
                None
            }
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn sync_filesystems<'a>(_files: impl Iterator<Item = (u64, &'a ClosedRecording)>) -> Vec<u64> {
    Vec::new()
}

/// Applies one command (a finished file goes to `finishing`); `Break` on
/// shutdown.
fn handle(
    files: &mut HashMap<u64, OpenFile>,
    finishing: &mut Vec<(OpenFile, Option<Reply>)>,
    command: Command,
    header_sync: Duration,
) -> ControlFlow<()> {
    match command {
        Command::Open {
            id,
            recorder,
            spares,
        } => {
            let header = HeaderSync::new(header_sync, Instant::now());
            files.insert(
                id,
                OpenFile {
                    recorder,
                    spares,
                    header,
                    failure: None,
                },
            );
        }
        Command::Block { id, samples } => {
            if let Some(file) = files.get_mut(&id) {
                file.append(&samples);
                // Before the block goes back: a recorder that has its block
                // again can count on the header covering it when it is due.
                file.sync_if_due(Instant::now());
                file.recycle(samples);
            }
        }
        Command::Finish { id, samples, reply } => {
            if let Some(mut file) = files.remove(&id) {
                file.append(&samples);
                finishing.push((file, reply));
            }
        }
        Command::Shutdown => return ControlFlow::Break(()),
    }
    ControlFlow::Continue(())
}

/// Sends a finished recording's summary to whoever waits for it, or logs it.
fn deliver(result: Result<RecordingSummary>, reply: Option<Reply>) {
    let unheard = match reply {
        Some(reply) => reply.send(result).err(),
        None => Some(result),
    };
    match unheard {
        None => {}
        Some(Ok(summary)) => {
            tracing::debug!(path = %summary.path.display(), frames = summary.frames, sha256 = %summary.sha256, "recording finished");
        }
        Some(Err(error)) => tracing::warn!(%error, "recording finished with an error"),
    }
}

#[cfg(test)]
mod tests;
