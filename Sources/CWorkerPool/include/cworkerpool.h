#ifndef CWORKERPOOL_H
#define CWORKERPOOL_H

/*
 * The process's one pool of worker threads, the backend of the engine's `Parallel` (Swift) and
 * of its split matrix products.
 *
 * A job is `count` independent tasks `task(context, i)`, i in [0, count). The calling thread
 * takes part, and every participant claims the next unclaimed index until none is left, so a
 * worker that wakes late simply finds its share done by the caller. `cx_pool_run` returns when
 * every task has finished.
 *
 * Hand-off: an idle worker spins on an atomic for a while (CYCLEX_POOL_SPIN_US, default 1000
 * microseconds, `pause` between reads), then parks on a futex and costs nothing until the next
 * job wakes it. The caller waits for the last task the same way. There is no `sched_yield` loop
 * anywhere. The spin outlasts the serial gaps between the parallel regions of a training step
 * or a forward pass, so the workers stay awake through them: a hand-off to a spinning worker
 * took 0.4 us, to a parked one 3-15 us (more when its virtual CPU has gone idle and the
 * hypervisor must wake it), and a step has thousands of regions (OpenMP runtimes also spin for
 * about that long). The price is CPU time: a spinning worker counts as busy, so compare CPU
 * times with CYCLEX_POOL_SPIN_US=0 (workers park at once) when that matters.
 *
 * Jobs run serially on the calling thread (same indices, in order) when the pool has one
 * thread, when the caller is itself inside a task of a job (nested parallelism), or when another
 * thread's job holds the pool (several threads of one process calling at once). So nesting
 * never deadlocks, and a task's result never depends on which thread ran it.
 */

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*cx_pool_task)(void *context, long index);

/* Runs task(context, i) for every i in [0, count) and returns when all have finished. */
void cx_pool_run(cx_pool_task task, void *context, long count);

/* Threads taking part in a job, the caller included (>= 1). Starts workers on first need. */
void cx_pool_set_threads(int threads);
int cx_pool_threads(void);

/* 1 while the calling thread runs a task of a job (worker or caller), else 0. */
int cx_pool_in_task(void);

#ifdef __cplusplus
}
#endif

#endif
