/*
 * zccache's file-access recorder: an LD_PRELOAD library loaded into a compiler (and every
 * process it starts) on a cache miss. It records what the compile really touched, so the
 * cache key covers every file read and every path probed and found absent — including what
 * a depfile omits (precompiled headers, .incbin, __has_include probes, specs, plugins, the
 * cc1/as binaries picked by -B) — and every environment variable read.
 *
 * Active only when ZCCACHE_ACCESS_LOG names the log file; then each record is one line
 * appended with a single write():
 *   P <pid> <exe>     a process loaded the recorder (its executable, from /proc/self/exe)
 *   Q <pid>           that process image ended (exit, _exit or exec): its records are all in
 *   X <pid> <path>    a process is about to exec (F <pid> <path>: the exec failed)
 *   R <path>          a file was opened for reading (or dlopen'ed)
 *   S <path>          a path exists (stat/access succeeded; not a directory where known)
 *   L <path>          a directory was listed (opendir)
 *   A <path>          a path was probed and could not be opened/found
 *   W <path>          a path was created, written, renamed or removed by the compile
 *   E <name>          an environment variable was read
 *   ? <why>           something could not be recorded faithfully (the compile is not cached)
 * Records are buffered per process and written in whole lines; a P without its Q means a
 * process vanished with records unwritten (killed, crashed), so the log is incomplete.
 * Relative paths are written as given while the process is in ZCCACHE_ACCESS_CWD, and made
 * absolute otherwise. The log is written through raw syscalls, so it is never recorded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

extern char **environ;

static int log_fd = -1;
static dev_t log_dev;
static ino_t log_ino;
static int active;
static char log_path[PATH_MAX];
static char base_cwd[PATH_MAX];

/* getenv without calling libc's (which is hooked below). */
static const char *raw_getenv(const char *name) {
    size_t n = strlen(name);
    if (!environ) return NULL;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    }
    return NULL;
}

static int open_log(void) {
    int fd = (int)syscall(SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 900);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    log_dev = st.st_dev;
    log_ino = st.st_ino;
    log_fd = fd;
    return 0;
}

/* The log descriptor, reopened if the process closed it (or reused its number). */
static int checked_log_fd(void) {
    struct stat st;
    if (log_fd >= 0 && fstat(log_fd, &st) == 0 && st.st_dev == log_dev && st.st_ino == log_ino) return log_fd;
    log_fd = -1;
    if (open_log() != 0) return -1;
    return log_fd;
}

static void write_raw(const char *data, size_t len) {
    int fd = checked_log_fd();
    if (fd < 0) return;
    while (len > 0) {
        long n = syscall(SYS_write, fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data += n;
        len -= (size_t)n;
    }
}

/* The per-process record buffer (whole lines only), guarded by a spinlock that fork
 * handlers take, so a child never inherits it half-written. */
#define BUF_SIZE 65536
static char buf[BUF_SIZE];
static size_t buf_len;
static int buf_lock;
static pid_t segment_pid;
static int segment_closed;

static void lock_buf(void) {
    while (__atomic_exchange_n(&buf_lock, 1, __ATOMIC_ACQUIRE)) {
    }
}

static void unlock_buf(void) { __atomic_store_n(&buf_lock, 0, __ATOMIC_RELEASE); }

static void flush_locked(void) {
    if (buf_len) {
        write_raw(buf, buf_len);
        buf_len = 0;
    }
}

/* Set while this thread is inside the recorder: a signal handler that opens a file then
 * must not wait for the lock its own thread holds; its record is lost, and said so. */
static __thread int in_recorder;
static int records_lost;

static void fork_prepare(void) {
    in_recorder = 1;
    lock_buf();
}
static void fork_parent(void) {
    unlock_buf();
    in_recorder = 0;
}
static void fork_child(void) {
    buf_len = 0; /* the parent writes its own pending records */
    unlock_buf();
    in_recorder = 0;
}

static void write_line(const char *line, size_t len) {
    if (in_recorder) {
        records_lost = 1;
        return;
    }
    in_recorder = 1;
    int saved = errno;
    lock_buf();
    if (segment_closed || len > BUF_SIZE) {
        flush_locked();
        write_raw(line, len);
    } else {
        if (buf_len + len > BUF_SIZE) flush_locked();
        memcpy(buf + buf_len, line, len);
        buf_len += len;
    }
    unlock_buf();
    errno = saved;
    in_recorder = 0;
}



static void write_marker(char op) {
    char line[PATH_MAX + 64];
    int n;
    if (op == 'P') {
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len <= 0) len = 0;
        exe[len] = 0;
        n = snprintf(line, sizeof line, "P %ld %s\n", (long)getpid(), exe);
    } else {
        n = snprintf(line, sizeof line, "Q %ld\n", (long)getpid());
    }
    if (n > 0 && (size_t)n < sizeof line) write_line(line, (size_t)n);
}

/* Ends this process image's records (before exit or exec): flush, then the Q marker.
 * Returns whether this call closed the segment (a vfork child owns none). */
static int close_segment(void) {
    if (!active) return 0;
    int saved = errno;
    int closed = 0;
    if (getpid() == segment_pid && !segment_closed) {
        if (records_lost) {
            static const char lost[] = "? a record was lost (file access from a signal handler)\n";
            write_line(lost, sizeof lost - 1);
        }
        write_marker('Q');
        in_recorder = 1;
        lock_buf();
        flush_locked();
        segment_closed = 1;
        unlock_buf();
        in_recorder = 0;
        closed = 1;
    } else {
        in_recorder = 1;
        lock_buf();
        flush_locked();
        unlock_buf();
        in_recorder = 0;
    }
    errno = saved;
    return closed;
}

/* After a failed exec: this image goes on recording. */
static void reopen_segment(int was_closed) {
    if (!was_closed) return;
    int saved = errno;
    segment_closed = 0;
    write_marker('P');
    errno = saved;
}

/* Per-process de-duplication of identical records (a lock-free set of 64-bit hashes). Small on
 * purpose: every page of it a process touches is a page fault, and hashing spreads records over
 * all of them (16384 slots cost ld ~60 faults per link). Duplicates past a full set are only
 * extra lines in the log. */
#define SEEN_SLOTS 2048
static uint64_t seen[SEEN_SLOTS];

static int seen_before(const char *line, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)line[i]) * 1099511628211ULL;
    if (h == 0) h = 1;
    for (unsigned probe = 0; probe < 32; probe++) {
        uint64_t *slot = &seen[(h + probe) % SEEN_SLOTS];
        uint64_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (cur == h) return 1;
        if (cur == 0) {
            uint64_t expected = 0;
            if (__atomic_compare_exchange_n(slot, &expected, h, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return 0;
            if (expected == h) return 1;
        }
    }
    return 0;
}

/* Appends "<op> <prefix>/<path>\n" (prefix may be NULL) as one record. */
static void record_joined(char op, const char *prefix, const char *path, int dedupe) {
    char line[2 * PATH_MAX + 64];
    size_t len = 0;
    size_t plen = prefix ? strlen(prefix) : 0;
    size_t n = strlen(path);
    if (plen + n + 8 >= sizeof line) {
        static const char too_long[] = "? path too long\n";
        write_line(too_long, sizeof too_long - 1);
        return;
    }
    if (memchr(path, '\n', n) || (prefix && memchr(prefix, '\n', plen))) {
        static const char newline[] = "? newline in path\n";
        write_line(newline, sizeof newline - 1);
        return;
    }
    line[len++] = op;
    line[len++] = ' ';
    if (prefix) {
        memcpy(line + len, prefix, plen);
        len += plen;
        if (plen == 0 || prefix[plen - 1] != '/') line[len++] = '/';
    }
    memcpy(line + len, path, n);
    len += n;
    line[len++] = '\n';
    if (dedupe && seen_before(line, len)) return;
    write_line(line, len);
}

/* Whether the cwd is ZCCACHE_ACCESS_CWD, without a getcwd per relative path: `cwd_gen` counts
 * chdir/fchdir calls through libc (raised before and after each, so a check during one fails),
 * and `base_seen` is 1 + the generation in which getcwd last found the base dir. A chdir by raw
 * syscall goes unseen, as a raw open does. */
static unsigned cwd_gen;
static unsigned base_seen;

static int cwd_is_base(void) {
    return __atomic_load_n(&base_seen, __ATOMIC_ACQUIRE) == __atomic_load_n(&cwd_gen, __ATOMIC_ACQUIRE) + 1;
}

static void cwd_changing(void) { __atomic_add_fetch(&cwd_gen, 1, __ATOMIC_ACQ_REL); }

/* Records `path` as seen from directory fd `dirfd` (AT_FDCWD for the cwd). */
static void record_at(char op, int dirfd, const char *path) {
    if (!active || !path || !*path) return;
    if (strncmp(path, "/proc/", 6) == 0 || strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/sys/", 5) == 0) return;
    if (path[0] == '/') {
        record_joined(op, NULL, path, 1);
        return;
    }
    char dir[PATH_MAX];
    if (dirfd == AT_FDCWD) {
        if (base_cwd[0] && cwd_is_base()) {
            record_joined(op, NULL, path, 1);
            return;
        }
        unsigned gen = __atomic_load_n(&cwd_gen, __ATOMIC_ACQUIRE);
        if (!getcwd(dir, sizeof dir)) {
            static const char nocwd[] = "? cwd unknown\n";
            write_line(nocwd, sizeof nocwd - 1);
            return;
        }
        if (base_cwd[0] && strcmp(dir, base_cwd) == 0) {
            __atomic_store_n(&base_seen, gen + 1, __ATOMIC_RELEASE);
            record_joined(op, NULL, path, 1);
            return;
        }
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, dir, sizeof dir - 1);
        if (n <= 0) {
            static const char nofd[] = "? directory fd unknown\n";
            write_line(nofd, sizeof nofd - 1);
            return;
        }
        dir[n] = 0;
    }
    record_joined(op, dir, path, 1);
}

static void record(char op, const char *path) { record_at(op, AT_FDCWD, path); }

/* "X <pid> <path>" lines: the pid makes each exec its own record. */
static void record_exec(char op, const char *path) {
    if (!active) return;
    char line[PATH_MAX + 64];
    int n = snprintf(line, sizeof line, "%c %ld %s\n", op, (long)getpid(), path ? path : "");
    if (n > 0 && (size_t)n < sizeof line && !memchr(line, '\n', (size_t)n - 1)) write_line(line, (size_t)n);
}

__attribute__((constructor)) static void recorder_init(void) {
    const char *p = raw_getenv("ZCCACHE_ACCESS_LOG");
    if (!p || !*p || strlen(p) >= sizeof log_path) return;
    strcpy(log_path, p);
    const char *c = raw_getenv("ZCCACHE_ACCESS_CWD");
    if (c && strlen(c) < sizeof base_cwd) strcpy(base_cwd, c);
    if (open_log() != 0) return;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    segment_pid = getpid();
    active = 1;
    write_marker('P');
}

__attribute__((destructor)) static void recorder_fini(void) { close_segment(); }

#define REAL(name, ret, ...)                                                  \
    static ret (*real_##name)(__VA_ARGS__);                                   \
    if (!real_##name) real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static int writes(int flags) {
    return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0;
}

/* After an open-like call returned `fd` for `path`: record what it means. */
static void after_open(int dirfd, const char *path, int flags, int fd, int saved) {
    if (!active) return;
    if (fd >= 0) {
        if (writes(flags)) {
            record_at('W', dirfd, path);
        } else {
            struct stat st;
            if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) return;
            record_at('R', dirfd, path);
        }
    } else if (!writes(flags)) {
        record_at('A', dirfd, path);
    }
}

static mode_t mode_arg(int flags, va_list ap) {
    if (flags & (O_CREAT | __O_TMPFILE)) return (mode_t)va_arg(ap, int);
    return 0;
}

#define OPEN_HOOK(name)                                          \
    int name(const char *path, int flags, ...) {                 \
        va_list ap;                                              \
        va_start(ap, flags);                                     \
        mode_t mode = mode_arg(flags, ap);                       \
        va_end(ap);                                              \
        REAL(name, int, const char *, int, ...);                 \
        int fd = real_##name(path, flags, mode);                 \
        int saved = errno;                                       \
        after_open(AT_FDCWD, path, flags, fd, saved);            \
        errno = saved;                                           \
        return fd;                                               \
    }
OPEN_HOOK(open)
OPEN_HOOK(open64)

#define OPENAT_HOOK(name)                                        \
    int name(int dirfd, const char *path, int flags, ...) {      \
        va_list ap;                                              \
        va_start(ap, flags);                                     \
        mode_t mode = mode_arg(flags, ap);                       \
        va_end(ap);                                              \
        REAL(name, int, int, const char *, int, ...);            \
        int fd = real_##name(dirfd, path, flags, mode);          \
        int saved = errno;                                       \
        after_open(dirfd, path, flags, fd, saved);               \
        errno = saved;                                           \
        return fd;                                               \
    }
OPENAT_HOOK(openat)
OPENAT_HOOK(openat64)

#define OPEN2_HOOK(name)                                         \
    int name(const char *path, int flags) {                      \
        REAL(name, int, const char *, int);                      \
        int fd = real_##name(path, flags);                       \
        int saved = errno;                                       \
        after_open(AT_FDCWD, path, flags, fd, saved);            \
        errno = saved;                                           \
        return fd;                                               \
    }
OPEN2_HOOK(__open_2)
OPEN2_HOOK(__open64_2)

#define OPENAT2_HOOK(name)                                       \
    int name(int dirfd, const char *path, int flags) {           \
        REAL(name, int, int, const char *, int);                 \
        int fd = real_##name(dirfd, path, flags);                \
        int saved = errno;                                       \
        after_open(dirfd, path, flags, fd, saved);               \
        errno = saved;                                           \
        return fd;                                               \
    }
OPENAT2_HOOK(__openat_2)
OPENAT2_HOOK(__openat64_2)

#define CREAT_HOOK(name)                                         \
    int name(const char *path, mode_t mode) {                    \
        REAL(name, int, const char *, mode_t);                   \
        int fd = real_##name(path, mode);                        \
        int saved = errno;                                       \
        if (fd >= 0) record('W', path);                          \
        errno = saved;                                           \
        return fd;                                               \
    }
CREAT_HOOK(creat)
CREAT_HOOK(creat64)

static int mode_writes(const char *mode) {
    return mode && (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+'));
}

#define FOPEN_HOOK(name)                                         \
    FILE *name(const char *path, const char *mode) {             \
        REAL(name, FILE *, const char *, const char *);          \
        FILE *f = real_##name(path, mode);                       \
        int saved = errno;                                       \
        if (f) record(mode_writes(mode) ? 'W' : 'R', path);      \
        else if (!mode_writes(mode)) record('A', path);          \
        errno = saved;                                           \
        return f;                                                \
    }
FOPEN_HOOK(fopen)
FOPEN_HOOK(fopen64)

#define FREOPEN_HOOK(name)                                                 \
    FILE *name(const char *path, const char *mode, FILE *stream) {         \
        REAL(name, FILE *, const char *, const char *, FILE *);            \
        FILE *f = real_##name(path, mode, stream);                         \
        int saved = errno;                                                 \
        if (path) {                                                        \
            if (f) record(mode_writes(mode) ? 'W' : 'R', path);            \
            else if (!mode_writes(mode)) record('A', path);                \
        }                                                                  \
        errno = saved;                                                     \
        return f;                                                          \
    }
FREOPEN_HOOK(freopen)
FREOPEN_HOOK(freopen64)

/* A stat-like result: exists (unless a directory) or absent. */
static void after_stat(int dirfd, const char *path, int rc, int saved, int is_dir) {
    if (!active) return;
    if (rc == 0) {
        if (!is_dir) record_at('S', dirfd, path);
    } else {
        record_at('A', dirfd, path);
    }
}

#define STAT_HOOK(name, st_t)                                             \
    int name(const char *path, st_t *buf) {                               \
        REAL(name, int, const char *, st_t *);                            \
        int rc = real_##name(path, buf);                                  \
        int saved = errno;                                                \
        after_stat(AT_FDCWD, path, rc, saved, rc == 0 && S_ISDIR(buf->st_mode)); \
        errno = saved;                                                    \
        return rc;                                                        \
    }
STAT_HOOK(stat, struct stat)
STAT_HOOK(stat64, struct stat64)
STAT_HOOK(lstat, struct stat)
STAT_HOOK(lstat64, struct stat64)

#define XSTAT_HOOK(name, st_t)                                            \
    int name(int ver, const char *path, st_t *buf) {                      \
        REAL(name, int, int, const char *, st_t *);                       \
        int rc = real_##name(ver, path, buf);                             \
        int saved = errno;                                                \
        after_stat(AT_FDCWD, path, rc, saved, rc == 0 && S_ISDIR(buf->st_mode)); \
        errno = saved;                                                    \
        return rc;                                                        \
    }
XSTAT_HOOK(__xstat, struct stat)
XSTAT_HOOK(__xstat64, struct stat64)
XSTAT_HOOK(__lxstat, struct stat)
XSTAT_HOOK(__lxstat64, struct stat64)

#define FSTATAT_HOOK(name, st_t)                                          \
    int name(int dirfd, const char *path, st_t *buf, int flags) {         \
        REAL(name, int, int, const char *, st_t *, int);                  \
        int rc = real_##name(dirfd, path, buf, flags);                    \
        int saved = errno;                                                \
        if (!((flags & AT_EMPTY_PATH) && path && !*path))                 \
            after_stat(dirfd, path, rc, saved, rc == 0 && S_ISDIR(buf->st_mode)); \
        errno = saved;                                                    \
        return rc;                                                        \
    }
FSTATAT_HOOK(fstatat, struct stat)
FSTATAT_HOOK(fstatat64, struct stat64)

int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags) {
    REAL(__fxstatat, int, int, int, const char *, struct stat *, int);
    int rc = real___fxstatat(ver, dirfd, path, buf, flags);
    int saved = errno;
    if (!((flags & AT_EMPTY_PATH) && path && !*path)) after_stat(dirfd, path, rc, saved, rc == 0 && S_ISDIR(buf->st_mode));
    errno = saved;
    return rc;
}

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    REAL(statx, int, int, const char *, int, unsigned int, struct statx *);
    int rc = real_statx(dirfd, path, flags, mask, buf);
    int saved = errno;
    if (!((flags & AT_EMPTY_PATH) && path && !*path)) after_stat(dirfd, path, rc, saved, rc == 0 && S_ISDIR(buf->stx_mode));
    errno = saved;
    return rc;
}

int access(const char *path, int mode) {
    REAL(access, int, const char *, int);
    int rc = real_access(path, mode);
    int saved = errno;
    if (rc == 0 || saved == ENOENT || saved == ENOTDIR) after_stat(AT_FDCWD, path, rc, saved, 0);
    errno = saved;
    return rc;
}

int faccessat(int dirfd, const char *path, int mode, int flags) {
    REAL(faccessat, int, int, const char *, int, int);
    int rc = real_faccessat(dirfd, path, mode, flags);
    int saved = errno;
    if (rc == 0 || saved == ENOENT || saved == ENOTDIR) after_stat(dirfd, path, rc, saved, 0);
    errno = saved;
    return rc;
}

#define EACCESS_HOOK(name)                                                \
    int name(const char *path, int mode) {                                \
        REAL(name, int, const char *, int);                               \
        int rc = real_##name(path, mode);                                 \
        int saved = errno;                                                \
        if (rc == 0 || saved == ENOENT || saved == ENOTDIR) after_stat(AT_FDCWD, path, rc, saved, 0); \
        errno = saved;                                                    \
        return rc;                                                        \
    }
EACCESS_HOOK(euidaccess)
EACCESS_HOOK(eaccess)

DIR *opendir(const char *path) {
    REAL(opendir, DIR *, const char *);
    DIR *d = real_opendir(path);
    int saved = errno;
    if (d) record('L', path);
    else record('A', path);
    errno = saved;
    return d;
}

char *realpath(const char *path, char *resolved) {
    REAL(realpath, char *, const char *, char *);
    char *r = real_realpath(path, resolved);
    int saved = errno;
    if (!r && path && (saved == ENOENT || saved == ENOTDIR)) record('A', path);
    errno = saved;
    return r;
}

void *dlopen(const char *file, int flags) {
    REAL(dlopen, void *, const char *, int);
    void *h = real_dlopen(file, flags);
    int saved = errno;
    if (file && strchr(file, '/')) record(h ? 'R' : 'A', file);
    errno = saved;
    return h;
}

/* Paths the compile itself creates, replaces or removes are its own, never inputs. */
#define WRITE_PATH_AFTER(rc_ok, path) \
    do {                              \
        int saved_ = errno;           \
        if (rc_ok) record('W', path); \
        errno = saved_;               \
    } while (0)

int mkstemp(char *t) { REAL(mkstemp, int, char *); int fd = real_mkstemp(t); WRITE_PATH_AFTER(fd >= 0, t); return fd; }
int mkstemp64(char *t) { REAL(mkstemp64, int, char *); int fd = real_mkstemp64(t); WRITE_PATH_AFTER(fd >= 0, t); return fd; }
int mkostemp(char *t, int f) { REAL(mkostemp, int, char *, int); int fd = real_mkostemp(t, f); WRITE_PATH_AFTER(fd >= 0, t); return fd; }
int mkostemp64(char *t, int f) { REAL(mkostemp64, int, char *, int); int fd = real_mkostemp64(t, f); WRITE_PATH_AFTER(fd >= 0, t); return fd; }
int mkstemps(char *t, int s) { REAL(mkstemps, int, char *, int); int fd = real_mkstemps(t, s); WRITE_PATH_AFTER(fd >= 0, t); return fd; }
int mkstemps64(char *t, int s) { REAL(mkstemps64, int, char *, int); int fd = real_mkstemps64(t, s); WRITE_PATH_AFTER(fd >= 0, t); return fd; }
int mkostemps(char *t, int s, int f) { REAL(mkostemps, int, char *, int, int); int fd = real_mkostemps(t, s, f); WRITE_PATH_AFTER(fd >= 0, t); return fd; }
int mkostemps64(char *t, int s, int f) { REAL(mkostemps64, int, char *, int, int); int fd = real_mkostemps64(t, s, f); WRITE_PATH_AFTER(fd >= 0, t); return fd; }
char *mkdtemp(char *t) { REAL(mkdtemp, char *, char *); char *r = real_mkdtemp(t); WRITE_PATH_AFTER(r != NULL, t); return r; }

int rename(const char *from, const char *to) {
    REAL(rename, int, const char *, const char *);
    int rc = real_rename(from, to);
    int saved = errno;
    if (rc == 0) {
        record('W', from);
        record('W', to);
    }
    errno = saved;
    return rc;
}

int renameat(int fd1, const char *from, int fd2, const char *to) {
    REAL(renameat, int, int, const char *, int, const char *);
    int rc = real_renameat(fd1, from, fd2, to);
    int saved = errno;
    if (rc == 0) {
        record_at('W', fd1, from);
        record_at('W', fd2, to);
    }
    errno = saved;
    return rc;
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned int flags) {
    REAL(renameat2, int, int, const char *, int, const char *, unsigned int);
    int rc = real_renameat2(fd1, from, fd2, to, flags);
    int saved = errno;
    if (rc == 0) {
        record_at('W', fd1, from);
        record_at('W', fd2, to);
    }
    errno = saved;
    return rc;
}

int link(const char *from, const char *to) { REAL(link, int, const char *, const char *); int rc = real_link(from, to); WRITE_PATH_AFTER(rc == 0, to); return rc; }
int symlink(const char *from, const char *to) { REAL(symlink, int, const char *, const char *); int rc = real_symlink(from, to); WRITE_PATH_AFTER(rc == 0, to); return rc; }
int chdir(const char *p) {
    REAL(chdir, int, const char *);
    cwd_changing();
    int rc = real_chdir(p);
    cwd_changing();
    return rc;
}
int fchdir(int fd) {
    REAL(fchdir, int, int);
    cwd_changing();
    int rc = real_fchdir(fd);
    cwd_changing();
    return rc;
}
int unlink(const char *p) { REAL(unlink, int, const char *); int rc = real_unlink(p); WRITE_PATH_AFTER(rc == 0, p); return rc; }
int remove(const char *p) { REAL(remove, int, const char *); int rc = real_remove(p); WRITE_PATH_AFTER(rc == 0, p); return rc; }
int truncate(const char *p, off_t l) { REAL(truncate, int, const char *, off_t); int rc = real_truncate(p, l); WRITE_PATH_AFTER(rc == 0, p); return rc; }
int unlinkat(int dirfd, const char *p, int flags) {
    REAL(unlinkat, int, int, const char *, int);
    int rc = real_unlinkat(dirfd, p, flags);
    int saved = errno;
    if (rc == 0) record_at('W', dirfd, p);
    errno = saved;
    return rc;
}

/* Environment reads: the name is recorded; the value is the build's, known to the daemon. */
char *getenv(const char *name) {
    const char *v = raw_getenv(name);
    if (active && name && !strchr(name, '\n')) {
        int saved = errno;
        record_joined('E', NULL, name, 1);
        errno = saved;
    }
    return (char *)v;
}

char *secure_getenv(const char *name) { return getenv(name); }

/* Processes: every exec is counted, so a child that cannot load the recorder (a static
 * binary) is noticed: it would have no P line of its own. */
#define EXEC_HOOK(name, label, params, args, ...)                \
    int name params {                                            \
        REAL(name, int, __VA_ARGS__);                            \
        record_exec('X', label);                                 \
        int closed = close_segment();                            \
        int rc = real_##name args;                               \
        int saved = errno;                                       \
        reopen_segment(closed);                                  \
        record_exec('F', label);                                 \
        errno = saved;                                           \
        return rc;                                               \
    }
EXEC_HOOK(execve, path, (const char *path, char *const argv[], char *const envp[]),
          (path, argv, envp), const char *, char *const[], char *const[])
EXEC_HOOK(execv, path, (const char *path, char *const argv[]), (path, argv), const char *,
          char *const[])
EXEC_HOOK(execvp, file, (const char *file, char *const argv[]), (file, argv), const char *,
          char *const[])
EXEC_HOOK(execvpe, file, (const char *file, char *const argv[], char *const envp[]),
          (file, argv, envp), const char *, char *const[], char *const[])
EXEC_HOOK(fexecve, "(fd)", (int fd, char *const argv[], char *const envp[]), (fd, argv, envp),
          int, char *const[], char *const[])

/* execl* are variadic: collect argv and go through the hooked execve/execvp. */
#define MAX_EXECL_ARGS 4096
static int collect_args(const char *arg0, va_list ap, char **argv, char ***envp_out) {
    int n = 0;
    argv[n++] = (char *)arg0;
    while (arg0 && n < MAX_EXECL_ARGS) {
        char *a = va_arg(ap, char *);
        argv[n++] = a;
        if (!a) break;
    }
    if (n >= MAX_EXECL_ARGS) return -1;
    if (envp_out) *envp_out = va_arg(ap, char **);
    return n;
}

int execl(const char *path, const char *arg, ...) {
    char *argv[MAX_EXECL_ARGS];
    va_list ap;
    va_start(ap, arg);
    int n = collect_args(arg, ap, argv, NULL);
    va_end(ap);
    if (n < 0) { errno = E2BIG; return -1; }
    return execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...) {
    char *argv[MAX_EXECL_ARGS];
    va_list ap;
    va_start(ap, arg);
    int n = collect_args(arg, ap, argv, NULL);
    va_end(ap);
    if (n < 0) { errno = E2BIG; return -1; }
    return execvp(file, argv);
}

int execle(const char *path, const char *arg, ...) {
    char *argv[MAX_EXECL_ARGS];
    char **envp = NULL;
    va_list ap;
    va_start(ap, arg);
    int n = collect_args(arg, ap, argv, &envp);
    va_end(ap);
    if (n < 0) { errno = E2BIG; return -1; }
    return execve(path, argv, envp);
}

/* _exit skips destructors: end the segment here. */
void _exit(int status) {
    REAL(_exit, void, int);
    close_segment();
    real__exit(status);
    __builtin_unreachable();
}

void _Exit(int status) {
    REAL(_Exit, void, int);
    close_segment();
    real__Exit(status);
    __builtin_unreachable();
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    REAL(posix_spawn, int, pid_t *, const char *, const posix_spawn_file_actions_t *,
         const posix_spawnattr_t *, char *const[], char *const[]);
    record_exec('X', path);
    int rc = real_posix_spawn(pid, path, fa, attr, argv, envp);
    if (rc != 0) record_exec('F', path);
    return rc;
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    REAL(posix_spawnp, int, pid_t *, const char *, const posix_spawn_file_actions_t *,
         const posix_spawnattr_t *, char *const[], char *const[]);
    record_exec('X', file);
    int rc = real_posix_spawnp(pid, file, fa, attr, argv, envp);
    if (rc != 0) record_exec('F', file);
    return rc;
}
