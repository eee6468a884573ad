#include "Kernel.h"

bool vigil_avx2_fma(void) {
#if defined(__x86_64__)
    // Threads that ask at the same time store the same answer.
    static int cached = -1;
    int answer = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (answer < 0) {
        __builtin_cpu_init();
        answer = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        __atomic_store_n(&cached, answer, __ATOMIC_RELAXED);
    }
    return answer;
#else
    return false;
#endif
}
