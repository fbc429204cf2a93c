// gatewayd-start-window: how long after exec a SIGTERM can still kill gatewayd (issue 14).
//
//   swift build -c release --static-swift-stdlib --scratch-path .build-static --product gatewayd
//   swift build -c release --product gatewayd-start-window
//   .build/release/gatewayd-start-window .build-static/release/gatewayd [RUNS]
//
// gatewayd blocks its lifecycle signals from its .preinit_array (CGatewaydStart), the earliest
// code of a process; before that, exec and the dynamic loader run, and a SIGTERM then takes its
// default action. This measures that window, from posix_spawn's return (the child has called
// execve) to the moment the child's main thread blocks SIGTERM (its SigBlk in /proc), for
// gatewayd and for a floor: this program itself, dynamically linked against libc alone, which
// blocks SIGTERM in the same way and then waits for it. Then, for both, how many of RUNS die of a
// SIGTERM sent 0, 1, 2 and 5 ms after posix_spawn returned (the killer sleeps, as a service
// manager does; a spinning killer starves the child of a core on a small machine).
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

// The floor's block, as gatewayd's: before any library's initialiser.
static void block_term(int argc, char **argv, char **envp) {
    (void)argc; (void)argv; (void)envp;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
}
__attribute__((section(".preinit_array"), used))
static void (*const preinit)(int, char **, char **) = block_term;

static unsigned long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

// 1: the main thread of `pid` blocks SIGTERM; 0: not yet; -1: cannot tell (gone).
static int blocks_term(pid_t pid) {
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    char *line = strstr(text, "SigBlk:");
    if (!line) return -1;
    unsigned long long mask = strtoull(line + 7, NULL, 16);
    return (int)((mask >> (SIGTERM - 1)) & 1);
}

static pid_t start(char *const argv[]) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    // The child starts with no signal blocked, as systemd starts a service.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &actions, &attributes, argv, environ) != 0) pid = -1;
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
}

static int compare(const void *a, const void *b) {
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *name, char *const argv[], int runs) {
    unsigned long long *window = calloc((size_t)runs, sizeof *window);
    int measured = 0;
    for (int run = 0; run < runs; run++) {
        pid_t pid = start(argv);
        if (pid < 0) { perror("posix_spawn"); exit(1); }
        unsigned long long t0 = now_ns();
        int state;
        while ((state = blocks_term(pid)) == 0) {}
        if (state == 1) window[measured++] = now_ns() - t0;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    qsort(window, (size_t)measured, sizeof *window, compare);
    if (measured > 0)
        printf("%-9s exec to SIGTERM blocked (us): min %.0f, median %.0f, p90 %.0f, max %.0f (%d runs)\n", name,
               window[0] / 1e3, window[measured / 2] / 1e3, window[measured * 9 / 10] / 1e3, window[measured - 1] / 1e3, measured);
    printf("%-9s SIGTERM after posix_spawn returned, killed by it:", name);
    const int delays_ms[] = {0, 1, 2, 5};
    for (size_t d = 0; d < sizeof delays_ms / sizeof *delays_ms; d++) {
        int killed = 0, clean = 0;
        for (int run = 0; run < runs; run++) {
            pid_t pid = start(argv);
            if (pid < 0) { perror("posix_spawn"); exit(1); }
            if (delays_ms[d] > 0) {
                struct timespec pause = {0, delays_ms[d] * 1000000L};
                nanosleep(&pause, NULL);
            }
            kill(pid, SIGTERM);
            int status = 0;
            waitpid(pid, &status, 0);
            if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) killed++;
            else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) clean++;
        }
        printf(" %d ms %d/%d%s", delays_ms[d], killed, runs, clean + killed < runs ? " (some neither)" : "");
    }
    printf("\n");
    free(window);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--floor") == 0) {
        // The floor: wait for the SIGTERM blocked since .preinit_array, then exit 0.
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        int signal = 0;
        sigwait(&set, &signal);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: gatewayd-start-window GATEWAYD [RUNS]\n");
        return 64;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 100;
    if (runs < 1) runs = 100;
    // gatewayd with a config of one quick command and everything else in a temporary directory.
    char directory[] = "/tmp/gatewayd-start-window.XXXXXX";
    if (!mkdtemp(directory)) { perror("mkdtemp"); return 1; }
    char config[256], socket_path[256], state[256], self[4096];
    snprintf(config, sizeof config, "%s/gatewayd.yaml", directory);
    snprintf(socket_path, sizeof socket_path, "%s/control", directory);
    snprintf(state, sizeof state, "%s/state", directory);
    FILE *file = fopen(config, "w");
    if (!file) { perror(config); return 1; }
    fputs("quick_commands:\n  up: {type: exec, command: \"echo up\"}\n", file);
    fclose(file);
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) { perror("/proc/self/exe"); return 1; }
    self[length] = 0;
    char *floor_argv[] = {self, "--floor", NULL};
    char *gatewayd_argv[] = {argv[1], "--config", config, "--socket", socket_path, "--state-dir", state,
                             "--log-target", "console", NULL};
    measure("floor", floor_argv, runs);
    measure("gatewayd", gatewayd_argv, runs);
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    return system(command) == 0 ? 0 : 1;
}
