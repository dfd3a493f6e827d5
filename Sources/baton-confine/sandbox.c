// The sandbox, in three processes:
//
//   baton-confine (outer)  the process the server started and watches: waits for init and
//                          leaves with the plan's exit status.
//   init (PID 1)           first process of the new PID namespace: sets the mounts up, starts
//                          the plan and reaps orphans. When it exits, the kernel kills every
//                          process left in the namespace — daemons that called setsid included.
//   the plan (PID 2)       drops to the plan's identity, then execs the command.
//
// All three stay in the server's process group, so a group signal reaches the plan directly;
// the outer process and init ignore the polite ones (the plan decides how it ends) and die of
// SIGKILL with it.

#include "sandbox.h"

/// Signals a group stop sends that the outer process and init leave to the plan.
static const int polite_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

/// The device nodes of the plan's /dev, as bubblewrap and container runtimes give them.
static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty" };
enum { DEVICE_COUNT = sizeof devices / sizeof devices[0] };

static int exit_status(int status) {
    return EXITED(status) ? EXIT_CODE(status) : 128 + TERMINATING_SIGNAL(status);
}

static void set_polite_signals(bool ignored) {
    for (size_t index = 0; index < sizeof polite_signals / sizeof polite_signals[0]; index++) {
        set_signal_ignored(polite_signals[index], ignored);
    }
}

/// A detached copy of the mount tree at `path`, with `attributes` (MOUNT_ATTR_*) set on all of it.
static int copy_tree(const char *path, unsigned long long attributes) {
    int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0) return fail("cannot copy the mount at %s", path);
    struct mount_attr attr = { .attr_set = attributes };
    if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
        fail("cannot restrict the mount at %s", path);
        close(tree);
        return -1;
    }
    return tree;
}

/// Makes the directories leading to `path` that are missing (on a tmpfs laid over its parents).
static int make_parents(const char *path) {
    char parent[4096];
    if (format(parent, sizeof parent, "%s", path) >= (int)sizeof parent) {
        errno = ENAMETOOLONG;
        return fail("cannot mount at %s", path);
    }
    for (char *slash = strchr(parent + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (make_directory(parent, 0755) != 0 && errno != EEXIST) return fail("cannot make the directory %s", parent);
        *slash = '/';
    }
    return 0;
}

/// Makes `path` exist as a directory, or as an empty file when `directory` is false, with the
/// directories leading to it.
static int make_mount_point(const char *path, bool directory, mode_t mode) {
    if (make_parents(path) != 0) return -1;
    if (directory) {
        if (make_directory(path, mode) == 0 || errno == EEXIST) return 0;
        return fail("cannot make the directory %s", path);
    }
    int descriptor = open_file(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (descriptor >= 0) {
        close(descriptor);
        return 0;
    }
    // A file that exists on the read-only host view is a mount point as it is.
    int type = file_type(path);
    if (type >= 0 && !S_ISDIR(type)) return 0;
    return fail("cannot make the file %s", path);
}

/// Puts the detached `tree` at `path`, making the mount point first.
static int attach(int tree, const char *path) {
    int type = descriptor_type(tree);
    if (type < 0) return fail("cannot inspect the copy of %s", path);
    if (make_mount_point(path, S_ISDIR(type), 0755) != 0) return -1;
    if (move_mount(tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) != 0) return fail("cannot mount %s", path);
    return 0;
}

static int mount_tmpfs(const char *path, mode_t mode) {
    char options[32];
    format(options, sizeof options, "mode=%04o", (int)mode);
    if (make_mount_point(path, true, 0755) != 0) return -1;
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) return fail("cannot mount a tmpfs on %s", path);
    return 0;
}

/// A /dev of its own: the harmless device nodes, a private pseudo-terminal instance, and the
/// usual links into /proc.
static int make_devices(const int trees[DEVICE_COUNT]) {
    if (mount_tmpfs("/dev", 0755) != 0) return -1;
    char path[64];
    for (int index = 0; index < DEVICE_COUNT; index++) {
        if (trees[index] < 0) continue;
        format(path, sizeof path, "/dev/%s", devices[index]);
        if (attach(trees[index], path) != 0) return -1;
    }
    if (make_mount_point("/dev/pts", true, 0755) != 0) return -1;
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") != 0) {
        return fail("cannot mount /dev/pts");
    }
    const char *links[][2] = {
        { "pts/ptmx", "/dev/ptmx" }, { "/proc/self/fd", "/dev/fd" }, { "/proc/self/fd/0", "/dev/stdin" },
        { "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
    };
    for (size_t index = 0; index < sizeof links / sizeof links[0]; index++) {
        if (make_symlink(links[index][0], links[index][1]) != 0) return fail("cannot link %s", links[index][1]);
    }
    return 0;
}

/// The plan's file system, in its own mount namespace: the host read-only, with its own /dev
/// and /proc, then the steps in order.
static int set_up_mounts(struct sandbox *sandbox) {
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) return fail("cannot detach the mount namespace");
    // Copies of what binds show, taken before tmpfs mounts cover their sources.
    int device_trees[DEVICE_COUNT];
    for (int index = 0; index < DEVICE_COUNT; index++) {
        char path[64];
        format(path, sizeof path, "/dev/%s", devices[index]);
        device_trees[index] = exists(path) ? copy_tree(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) : -1;
        if (device_trees[index] < 0 && errno != ENOENT) return -1;
    }
    for (int index = 0; index < sandbox->step_count; index++) {
        struct mount_step *step = &sandbox->steps[index];
        unsigned long long restricted = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        switch (step->kind) {
        case MOUNT_BIND: step->tree = copy_tree(step->path, restricted); break;
        case MOUNT_READ_ONLY: step->tree = copy_tree(step->path, restricted | MOUNT_ATTR_RDONLY); break;
        case MOUNT_BLANK: step->tree = copy_tree("/dev/null", restricted | MOUNT_ATTR_RDONLY); break;
        default: continue;
        }
        if (step->tree < 0) return -1;
    }
    struct mount_attr read_only = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
    if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &read_only, sizeof read_only) != 0) return fail("cannot make / read-only");
    if (make_devices(device_trees) != 0) return -1;
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return fail("cannot mount /proc");
    for (int index = 0; index < sandbox->step_count; index++) {
        struct mount_step *step = &sandbox->steps[index];
        switch (step->kind) {
        case MOUNT_TMPFS:
            if (mount_tmpfs(step->path, step->mode) != 0) return -1;
            break;
        case MOUNT_DIRECTORY:
            if (make_mount_point(step->path, true, step->mode) != 0) return -1;
            if (change_mode(step->path, step->mode) != 0) return fail("cannot set the mode of %s", step->path);
            break;
        default:
            if (attach(step->tree, step->path) != 0) return -1;
            close(step->tree);
            step->tree = -1;
        }
    }
    return 0;
}

/// Writes `text` to the file `path` (a /proc map of a new user namespace).
static int write_file(const char *path, const char *text) {
    int descriptor = open_file(path, O_WRONLY | O_CLOEXEC, 0);
    if (descriptor < 0) return fail("cannot open %s", path);
    long written = write(descriptor, text, strlen(text));
    int saved = errno;
    close(descriptor);
    errno = saved;
    return written == (long)strlen(text) ? 0 : fail("cannot write %s", path);
}

/// Leaves nothing of privilege: no capability in any set, the plan's user and group when the
/// server is root, and no way to gain anything back through exec (setuid files, file caps).
static int drop_privileges(const struct sandbox *sandbox) {
    // The bounding set first, while CAP_SETPCAP is still held; EINVAL past the last capability.
    for (int capability = 0; capability < 64; capability++) {
        if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) return fail("cannot drop capability %d", capability);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return fail("cannot clear ambient capabilities");
    if (sandbox->switch_user) {
        if (set_groups_none() != 0) return fail("cannot clear supplementary groups");
        if (setresgid(sandbox->gid, sandbox->gid, sandbox->gid) != 0) return fail("cannot become group %d", (int)sandbox->gid);
        if (setresuid(sandbox->uid, sandbox->uid, sandbox->uid) != 0) return fail("cannot become user %d", (int)sandbox->uid);
    }
    if (drop_all_capabilities() != 0) return fail("cannot drop capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("cannot forbid new privileges");
    return 0;
}

/// PID 1 of the plan's namespace: the mounts, then the plan, then reaping until the plan ends.
static int run_init(struct sandbox *sandbox, char **command) {
    // The outer process gone (killed on its own), the namespace goes with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (set_up_mounts(sandbox) != 0) return 125;
    if (sandbox->no_network && bring_loopback_up() != 0) {
        fail("cannot bring the loopback interface up");
        return 125;
    }
    if (change_directory(sandbox->directory) != 0) {
        fail("cannot enter the workspace %s", sandbox->directory);
        return 125;
    }
    pid_t plan = fork_into(0);
    if (plan < 0) {
        fail("cannot start the plan");
        return 125;
    }
    if (plan == 0) {
        set_polite_signals(false);
        if (drop_privileges(sandbox) != 0) exit_now(125);
        execute(command[0], command);
        fail("cannot run %s", command[0]);
        exit_now(127);
    }
    for (;;) {
        int status;
        pid_t ended = wait_for(-1, &status);
        if (ended == plan) return exit_status(status);
        if (ended < 0 && errno != EINTR) return 125;
    }
}

/// Maps `uid` and `gid` to themselves in the new user namespace this process is in.
static int map_own_user(uid_t uid, gid_t gid) {
    char map[64];
    format(map, sizeof map, "%d %d 1\n", (int)uid, (int)uid);
    if (write_file("/proc/self/uid_map", map) != 0) return -1;
    if (write_file("/proc/self/setgroups", "deny") != 0) return -1;
    format(map, sizeof map, "%d %d 1\n", (int)gid, (int)gid);
    return write_file("/proc/self/gid_map", map);
}

int sandbox_run(struct sandbox *sandbox, char **command) {
    unsigned long namespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    if (sandbox->no_network) namespaces |= CLONE_NEWNET;
    // Not root: a user namespace, in which this user may mount, and nothing outside it.
    bool own_user_namespace = geteuid() != 0;
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (own_user_namespace) namespaces |= CLONE_NEWUSER;
    set_polite_signals(true);
    // Only init is in the new namespaces, so that it is init's exit that tears them down (the
    // mounts, an RCU grace period) and this process, whose exit the server waits for just after
    // its output ends, leaves at once.
    pid_t init = fork_into(namespaces);
    if (init < 0 && errno == EINVAL) init = fork_into(namespaces & ~CLONE_NEWCGROUP);
    if (init < 0) {
        fail("cannot create the plan's namespaces");
        return 125;
    }
    if (init == 0) {
        if (own_user_namespace && map_own_user(uid, gid) != 0) exit_now(125);
        exit_now(run_init(sandbox, command));
    }
    for (;;) {
        int status;
        if (wait_for(init, &status) == init) return exit_status(status);
        if (errno != EINTR) {
            fail("lost the plan's namespace");
            return 125;
        }
    }
}
