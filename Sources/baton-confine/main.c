// baton-confine: starts a plan confined. It puts itself into the plan's cgroups and under its
// open-file limit, so that everything the plan starts is counted against its limits from its
// first instruction on; with --sandbox, it then builds the plan's sandbox itself (namespaces,
// mounts, identity: see sandbox.c) and runs the command inside; without, it execs the command.
//
//   baton-confine [--cgroup DIRECTORY]... [--open-files N]
//                 [--sandbox --chdir DIRECTORY [--user UID GID] [--no-network]
//                            [--tmpfs PATH MODE | --dir PATH MODE | --bind PATH | --ro-bind PATH | --blank PATH]...]
//                 -- COMMAND [ARGUMENT]...
//
// Mount steps apply in the order given, over a read-only view of the host; MODE is octal.
// Exit status 125, with a line on stderr, when it cannot confine itself; 127 when COMMAND cannot
// be run (as env(1) does); else the command's own, or 128 + the signal that ended it.

#include "runtime.h"
#include "sandbox.h"

static const char usage[] =
    "usage: baton-confine [--cgroup DIRECTORY]... [--open-files N]\n"
    "                     [--sandbox --chdir DIRECTORY [--user UID GID] [--no-network]\n"
    "                                [--tmpfs PATH MODE | --dir PATH MODE | --bind PATH | --ro-bind PATH | --blank PATH]...]\n"
    "                     -- COMMAND [ARGUMENT]...\n";

/// Says what is wrong with the command line, then how to write one; the exit status for that.
static int refuse(const char *problem, const char *detail) {
    say("baton-confine: ");
    say(problem);
    say(detail);
    say("\n");
    say(usage);
    return 125;
}

/// Moves this process into the cgroup DIRECTORY by writing 0, "the calling thread", to its
/// `tasks` file. The process is single-threaded here, so that is the whole process; and unlike a
/// write of a pid to `cgroup.procs`, moving only the caller spares the kernel the global
/// threadgroup lock, whose first writer after a quiet spell waits out an RCU grace period — 10 to
/// 20 ms added to every plan's start.
static int join(const char *directory) {
    char path[4096];
    if (format(path, sizeof path, "%s/tasks", directory) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return fail("cannot join the cgroup %s", directory);
    }
    int descriptor = open_file(path, O_WRONLY | O_CLOEXEC, 0);
    if (descriptor < 0) return fail("cannot join the cgroup %s", directory);
    long written = write(descriptor, "0\n", 2);
    int saved = errno;
    close(descriptor);
    errno = saved;
    return written == 2 ? 0 : fail("cannot join the cgroup %s", directory);
}

int main(int argc, char **argv) {
    struct mount_step steps[argc];
    struct sandbox sandbox = { .steps = steps };
    bool sandboxed = false;
    int index = 1;
    for (; index < argc && strcmp(argv[index], "--") != 0; index++) {
        const char *option = argv[index];
        int left = argc - index - 1;
        if (strcmp(option, "--cgroup") == 0 && left >= 1) {
            if (join(argv[++index]) != 0) return 125;
        } else if (strcmp(option, "--open-files") == 0 && left >= 1) {
            long long count = parse_number(argv[++index], 10, 1, 0x7fffffff);
            if (count < 0) return refuse("bad --open-files ", argv[index]);
            if (set_open_file_limit((unsigned long)count) != 0) {
                fail("cannot limit open files to %s", argv[index]);
                return 125;
            }
        } else if (strcmp(option, "--sandbox") == 0) {
            sandboxed = true;
        } else if (strcmp(option, "--chdir") == 0 && left >= 1) {
            sandbox.directory = argv[++index];
        } else if (strcmp(option, "--no-network") == 0) {
            sandbox.no_network = true;
        } else if (strcmp(option, "--user") == 0 && left >= 2) {
            long long uid = parse_number(argv[index + 1], 10, 1, 0xfffffffe), gid = parse_number(argv[index + 2], 10, 1, 0xfffffffe);
            if (uid < 0 || gid < 0) return refuse("bad --user (never root) ", argv[index + 1]);
            sandbox.switch_user = true;
            sandbox.uid = (uid_t)uid;
            sandbox.gid = (gid_t)gid;
            index += 2;
        } else if ((strcmp(option, "--tmpfs") == 0 || strcmp(option, "--dir") == 0) && left >= 2) {
            long long mode = parse_number(argv[index + 2], 8, 0, 07777);
            if (mode < 0) return refuse(strcmp(option, "--tmpfs") == 0 ? "bad --tmpfs " : "bad --dir ", argv[index + 2]);
            steps[sandbox.step_count++] = (struct mount_step){
                .kind = strcmp(option, "--tmpfs") == 0 ? MOUNT_TMPFS : MOUNT_DIRECTORY, .path = argv[index + 1], .mode = (mode_t)mode, .tree = -1,
            };
            index += 2;
        } else if ((strcmp(option, "--bind") == 0 || strcmp(option, "--ro-bind") == 0 || strcmp(option, "--blank") == 0) && left >= 1) {
            int kind = strcmp(option, "--bind") == 0 ? MOUNT_BIND : strcmp(option, "--ro-bind") == 0 ? MOUNT_READ_ONLY : MOUNT_BLANK;
            steps[sandbox.step_count++] = (struct mount_step){ .kind = kind, .path = argv[++index], .tree = -1 };
        } else {
            return refuse("unknown or incomplete argument ", option);
        }
    }
    if (index + 1 >= argc) return refuse("no command after --", "");
    char **command = argv + index + 1;
    if (sandboxed) {
        if (sandbox.directory == NULL) return refuse("--sandbox needs --chdir", "");
        return sandbox_run(&sandbox, command);
    }
    execute(command[0], command);
    fail("cannot run %s", command[0]);
    return 127;
}
