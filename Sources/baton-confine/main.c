// baton-confine: puts itself into a plan's cgroups and under its open-file limit, then execs the
// rest of its command line, so that everything the plan starts is counted against its limits
// from its first instruction on.
//
//   baton-confine [--cgroup DIRECTORY]... [--open-files N] -- COMMAND [ARGUMENT]...
//
// Exit status 125, with a line on stderr, when it cannot confine itself; 127 when COMMAND cannot
// be run (as env(1) does).

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "baton-confine: %s %s: %s\n", what, detail, strerror(errno));
    return 125;
}

/// Writes this process's id into DIRECTORY/cgroup.procs, which moves it into that cgroup.
static int join(const char *directory) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/cgroup.procs", directory) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return fail("cannot join the cgroup", directory);
    }
    int descriptor = open(path, O_WRONLY | O_CLOEXEC);
    if (descriptor < 0) return fail("cannot join the cgroup", directory);
    char pid[32];
    int length = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    ssize_t written = write(descriptor, pid, (size_t)length);
    int saved = errno;
    close(descriptor);
    errno = saved;
    return written == length ? 0 : fail("cannot join the cgroup", directory);
}

int main(int argc, char **argv) {
    int index = 1;
    for (; index < argc && strcmp(argv[index], "--") != 0; index++) {
        if (strcmp(argv[index], "--cgroup") == 0 && index + 1 < argc) {
            int status = join(argv[++index]);
            if (status != 0) return status;
        } else if (strcmp(argv[index], "--open-files") == 0 && index + 1 < argc) {
            char *end = NULL;
            const char *text = argv[++index];
            long long count = strtoll(text, &end, 10);
            if (*text == '\0' || *end != '\0' || count < 1) {
                errno = EINVAL;
                return fail("bad --open-files", text);
            }
            struct rlimit limit = { .rlim_cur = (rlim_t)count, .rlim_max = (rlim_t)count };
            if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return fail("cannot limit open files to", text);
        } else {
            fprintf(stderr, "baton-confine: unknown argument %s\n"
                            "usage: baton-confine [--cgroup DIRECTORY]... [--open-files N] -- COMMAND [ARGUMENT]...\n", argv[index]);
            return 125;
        }
    }
    if (index + 1 >= argc) {
        fprintf(stderr, "baton-confine: no command after --\n");
        return 125;
    }
    execv(argv[index + 1], argv + index + 1);
    fprintf(stderr, "baton-confine: cannot run %s: %s\n", argv[index + 1], strerror(errno));
    return 127;
}
