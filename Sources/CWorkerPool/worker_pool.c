/*
 * The process's one worker pool (see include/cworkerpool.h for the contract).
 *
 * State of the job in flight:
 * - `ticket` packs the job's generation (high 32 bits) and the next unclaimed task index (low
 *   32 bits). A participant claims index i by a compare-and-swap from (g, i) to (g, i + 1), so
 *   a thread still holding a stale generation can never claim a task of a newer job.
 * - Before it rewrites the job's fields, the owner sets the ticket to (g, LOCKED): a claim by a
 *   late participant of the previous job then fails, because its expected ticket is gone.
 * - `done` counts finished tasks; the owner returns when it equals `count`. A task can only be
 *   finished by the thread that claimed it, so nothing touches `done` after the job ends.
 * - `generation` mirrors the ticket's generation in a 32-bit word that idle workers watch (spin,
 *   then futex). `done` is the futex word the owner parks on.
 * Every access is sequentially consistent (plain loads and `xchg` stores on x86-64): the few
 * operations per job cost nothing next to a task, and the proofs above rely on one total order.
 */
#define _GNU_SOURCE
#include "cworkerpool.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#error "CWorkerPool parks threads on Linux futexes; port futex_wait/futex_wake for this system"
#endif

enum { MAX_THREADS = 256 };
static const uint32_t LOCKED = UINT32_MAX;

static struct {
    _Atomic uint64_t ticket;
    _Atomic uint32_t generation;
    _Atomic uint32_t done;
    _Atomic long count;
    _Atomic(cx_pool_task) task;
    _Atomic(void *) context;
    _Atomic int busy;          /* 1 while a thread owns the pool for a job */
    _Atomic int sleepers;      /* workers parked on `generation` */
    _Atomic int ownerParked;   /* 1 while the owner is parked on `done` */
    _Atomic int threads;       /* participants, the caller included */
    int started;               /* workers created so far (changed only by the pool's owner) */
    uint32_t lastGeneration;   /* changed only by the pool's owner */
} pool = {.threads = 1};

static _Thread_local int inTask;

static pthread_once_t spinOnce = PTHREAD_ONCE_INIT;
static long spinNanoseconds = 1000000;

static void readSpinSetting(void) {
    const char *text = getenv("CYCLEX_POOL_SPIN_US");
    if (text == NULL || *text == 0) return;
    char *end = NULL;
    long microseconds = strtol(text, &end, 10);
    if (end != NULL && *end == 0 && microseconds >= 0 && microseconds <= 1000000) spinNanoseconds = microseconds * 1000;
}

static inline void cpuRelax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline long nowNanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void futexWait(_Atomic uint32_t *word, uint32_t expected) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futexWake(_Atomic uint32_t *word, int waiters) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, waiters, NULL, NULL, 0);
}

/* Claims and runs tasks of generation g until none is left unclaimed. */
static void participate(uint32_t g) {
    for (;;) {
        uint64_t ticket = atomic_load(&pool.ticket);
        if ((uint32_t)(ticket >> 32) != g) return;
        uint32_t index = (uint32_t)ticket;
        long count = atomic_load(&pool.count);
        if ((long)index >= count) return;
        cx_pool_task task = atomic_load(&pool.task);
        void *context = atomic_load(&pool.context);
        if (!atomic_compare_exchange_strong(&pool.ticket, &ticket, ticket + 1)) continue;
        task(context, (long)index);
        uint32_t finished = atomic_fetch_add(&pool.done, 1) + 1;
        if ((long)finished == count && atomic_load(&pool.ownerParked)) futexWake(&pool.done, 1);
    }
}

/* Waits until `generation` differs from `seen` (spinning first when `spin`), returns it. */
static uint32_t awaitGeneration(uint32_t seen, int spin) {
    uint32_t g;
    if (spin && spinNanoseconds > 0) {
        long deadline = nowNanoseconds() + spinNanoseconds;
        for (unsigned round = 1;; round++) {
            g = atomic_load_explicit(&pool.generation, memory_order_acquire);
            if (g != seen) return g;
            cpuRelax();
            if ((round & 31) == 0 && nowNanoseconds() > deadline) break;
        }
    }
    atomic_fetch_add(&pool.sleepers, 1);
    while ((g = atomic_load(&pool.generation)) == seen) futexWait(&pool.generation, seen);
    atomic_fetch_sub(&pool.sleepers, 1);
    return g;
}

static void *workerMain(void *argument) {
    int index = (int)(intptr_t)argument; /* 1, 2, ...: the caller is participant 0 */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the program's own threads */
    inTask = 1;                             /* a job started from inside a task runs serially */
    uint32_t seen = atomic_load(&pool.generation);
    for (;;) {
        seen = awaitGeneration(seen, index < atomic_load(&pool.threads));
        if (index < atomic_load(&pool.threads)) participate(seen);
    }
    return NULL;
}

/* Starts workers up to threads - 1; called by the pool's owner only. */
static void startWorkers(void) {
    int wanted = atomic_load(&pool.threads) - 1;
    while (pool.started < wanted) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, workerMain, (void *)(intptr_t)(pool.started + 1));
        pthread_attr_destroy(&attributes);
        if (failed) { /* keep the threads we have; the caller's share absorbs the rest */
            atomic_store(&pool.threads, pool.started + 1);
            return;
        }
        pool.started += 1;
    }
}

static void runSerially(cx_pool_task task, void *context, long count) {
    for (long i = 0; i < count; i++) task(context, i);
}

void cx_pool_run(cx_pool_task task, void *context, long count) {
    if (count <= 0) return;
    if (count == 1 || inTask || atomic_load(&pool.threads) <= 1 || count >= (long)LOCKED) {
        int wasInTask = inTask;
        inTask = 1;
        runSerially(task, context, count);
        inTask = wasInTask;
        return;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &expected, 1)) {
        inTask = 1;
        runSerially(task, context, count);
        inTask = 0;
        return;
    }
    pthread_once(&spinOnce, readSpinSetting);
    startWorkers();

    uint32_t g = ++pool.lastGeneration;
    atomic_store(&pool.ticket, ((uint64_t)g << 32) | LOCKED);
    atomic_store(&pool.task, task);
    atomic_store(&pool.context, context);
    atomic_store(&pool.count, count);
    atomic_store(&pool.done, 0);
    atomic_store(&pool.ticket, (uint64_t)g << 32);
    atomic_store(&pool.generation, g);
    if (atomic_load(&pool.sleepers) > 0) futexWake(&pool.generation, INT_MAX);

    inTask = 1;
    participate(g);
    inTask = 0;

    uint32_t finished = atomic_load(&pool.done);
    if ((long)finished != count && spinNanoseconds > 0) {
        long deadline = nowNanoseconds() + spinNanoseconds;
        for (unsigned round = 1; (long)(finished = atomic_load(&pool.done)) != count; round++) {
            cpuRelax();
            if ((round & 31) == 0 && nowNanoseconds() > deadline) break;
        }
    }
    if ((long)finished != count) {
        atomic_store(&pool.ownerParked, 1);
        while ((long)(finished = atomic_load(&pool.done)) != count) futexWait(&pool.done, finished);
        atomic_store(&pool.ownerParked, 0);
    }
    atomic_store(&pool.busy, 0);
}

void cx_pool_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    atomic_store(&pool.threads, threads);
}

int cx_pool_threads(void) { return atomic_load(&pool.threads); }

int cx_pool_in_task(void) { return inTask; }
