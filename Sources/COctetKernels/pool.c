// A persistent worker pool for fork-join kernels.
//
// Why not GCD: a BERT forward pass is ~45 short parallel regions (a 128-row GEMM takes ~0.3 ms per core); waking a
// sleeping thread for each costs tens of microseconds and leaves the cores idle in between. Workers here spin
// briefly on a generation counter after each region, so back-to-back regions start within a cache-line transfer,
// and fall back to a condition variable when idle so a quiet process uses no CPU.
//
// Why the spinning yields after a while: on a machine with other busy processes (a CI runner, an evaluation in the
// background) a worker the caller waits for may not be running; pure spinning then burns the very core that worker
// needs for a whole scheduler slice. Measured on this project's 2-core machine with two background jobs: batch-1 s128
// median 147 ms with pure spinning. After YIELD_AFTER rounds each wait calls sched_yield(), which returns at once when
// nothing else is runnable, so a quiet machine keeps the fast start.
#include "octet_kernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define PAUSE() _mm_pause()
#else
#define PAUSE() ((void)0)
#endif

#define MAX_WORKERS 256
#define SPIN_ROUNDS 200000  // ~0.5–1 ms of pause instructions before sleeping
#define YIELD_AFTER 2000    // ~5–10 µs of pause instructions before each round also yields the core

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;  // one region at a time
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static atomic_ulong generation;
static atomic_int pending;
static int started;  // workers 1...started exist
static octet_task_fn job_fn;
static void *job_ctx;
static int job_workers;
static _Thread_local int inside_pool;
static unsigned long first_generation[MAX_WORKERS];  // the generation a worker was created in: it waits for the next

static void *worker_main(void *arg) {
    int index = (int)(long)arg;
    inside_pool = 1;
    unsigned long seen = first_generation[index];
    for (;;) {
        unsigned long g;
        int spins = 0;
        while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
            if (spins < SPIN_ROUNDS) {
                // A yield costs about as much as 64 pauses: the spin-then-sleep budget stays ~1 ms either way.
                if (spins > YIELD_AFTER) { sched_yield(); spins += 64; } else { PAUSE(); spins++; }
                continue;
            }
            pthread_mutex_lock(&wake_lock);
            while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) pthread_cond_wait(&wake, &wake_lock);
            pthread_mutex_unlock(&wake_lock);
            break;
        }
        seen = g;
        if (index < job_workers) {
            job_fn(job_ctx, index);
            atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel);
        }
    }
    return NULL;
}

int octet_pool_run(int workers, octet_task_fn fn, void *ctx) {
    if (workers > MAX_WORKERS) workers = MAX_WORKERS;
    if (workers <= 1 || inside_pool) {
        // Nested or serial: run every index here, in order.
        for (int w = 0; w < (workers < 1 ? 1 : workers); w++) fn(ctx, w);
        return workers < 1 ? 1 : workers;
    }
    pthread_mutex_lock(&run_lock);
    while (started < workers - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        first_generation[started + 1] = atomic_load(&generation);
        if (pthread_create(&thread, &attr, worker_main, (void *)(long)(started + 1)) != 0) {
            pthread_attr_destroy(&attr);
            break;  // fewer threads than asked: the caller's share grows (below)
        }
        pthread_attr_destroy(&attr);
        started++;
    }
    int parallel = started + 1 < workers ? started + 1 : workers;
    job_fn = fn;
    job_ctx = ctx;
    job_workers = parallel;
    atomic_store_explicit(&pending, parallel - 1, memory_order_release);
    pthread_mutex_lock(&wake_lock);
    atomic_fetch_add_explicit(&generation, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&wake_lock);
    inside_pool = 1;
    fn(ctx, 0);
    for (int w = parallel; w < workers; w++) fn(ctx, w);  // indices no thread could take
    inside_pool = 0;
    for (int spins = 0; atomic_load_explicit(&pending, memory_order_acquire) > 0; spins++) {
        if (spins > YIELD_AFTER) sched_yield(); else PAUSE();
    }
    pthread_mutex_unlock(&run_lock);
    return workers;
}
