// System call stubs, the entry point and string helpers: see runtime.h for why.

#include "runtime.h"

int confine_errno;

/// The environment, for exec: set by the entry point.
static char **environment;

int main(int argc, char **argv);

#if defined(__x86_64__)
long system_call(long number, long a, long b, long c, long d, long e, long f) {
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long result;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    if (result < 0 && result > -4096) {
        errno = (int)-result;
        return -1;
    }
    return result;
}

// The entry point (the linker is told its name): the kernel starts a process with argc, argv
// and the environment on the stack.
__asm__(".text\n"
        ".global baton_confine_start\n"
        "baton_confine_start:\n"
        "    xor %rbp, %rbp\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call start\n"
        "    hlt\n");
#elif defined(__aarch64__)
long system_call(long number, long a, long b, long c, long d, long e, long f) {
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    if (x0 < 0 && x0 > -4096) {
        errno = (int)-x0;
        return -1;
    }
    return x0;
}

__asm__(".text\n"
        ".global baton_confine_start\n"
        "baton_confine_start:\n"
        "    mov x29, #0\n"
        "    mov x30, #0\n"
        "    mov x0, sp\n"
        "    and sp, x0, #-16\n"
        "    bl start\n");
#else
#error "baton-confine supports x86_64 and aarch64 Linux"
#endif

__attribute__((noreturn, used)) void start(long *stack) {
    int argc = (int)stack[0];
    char **argv = (char **)(stack + 1);
    environment = argv + argc + 1;
    exit_now(main(argc, argv));
}

#define CALL(number, ...) system_call_n(number, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define system_call_n(number, a, b, c, d, e, f, ...) system_call(number, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

int open_file(const char *path, int flags, mode_t mode) { return (int)CALL(__NR_openat, AT_FDCWD, path, flags, mode); }
int close(int descriptor) { return (int)CALL(__NR_close, descriptor); }
long write(int descriptor, const void *bytes, size_t count) { return CALL(__NR_write, descriptor, bytes, count); }
int make_directory(const char *path, mode_t mode) { return (int)CALL(__NR_mkdirat, AT_FDCWD, path, mode); }
int change_mode(const char *path, mode_t mode) { return (int)CALL(__NR_fchmodat, AT_FDCWD, path, mode, 0); }
int make_symlink(const char *target, const char *path) { return (int)CALL(__NR_symlinkat, target, AT_FDCWD, path); }
bool exists(const char *path) { return CALL(__NR_faccessat, AT_FDCWD, path, 0, 0) == 0; }
int change_directory(const char *path) { return (int)CALL(__NR_chdir, path); }

int mount(const char *source, const char *target, const char *type, unsigned long flags, const void *data) {
    return (int)CALL(__NR_mount, source, target, type, flags, data);
}
int open_tree(int directory, const char *path, unsigned int flags) { return (int)CALL(__NR_open_tree, directory, path, flags); }
int move_mount(int from_directory, const char *from_path, int to_directory, const char *to_path, unsigned int flags) {
    return (int)CALL(__NR_move_mount, from_directory, from_path, to_directory, to_path, flags);
}
int mount_setattr(int directory, const char *path, unsigned int flags, struct mount_attr *attributes, size_t size) {
    return (int)CALL(__NR_mount_setattr, directory, path, flags, attributes, size);
}

/// The file type bits of what statx finds at `path` relative to `directory`.
static int statx_type(int directory, const char *path, int flags) {
    struct statx status;
    if (CALL(__NR_statx, directory, path, flags, STATX_TYPE, &status) != 0) return -1;
    return status.stx_mode & S_IFMT;
}
int file_type(const char *path) { return statx_type(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW); }
int descriptor_type(int descriptor) { return statx_type(descriptor, "", AT_EMPTY_PATH); }

int prctl(int option, unsigned long a, unsigned long b, unsigned long c, unsigned long d) {
    return (int)CALL(__NR_prctl, option, a, b, c, d);
}
int set_open_file_limit(unsigned long count) {
    struct rlimit64 { unsigned long long current, maximum; } limit = { count, count };
    return (int)CALL(__NR_prlimit64, 0, RLIMIT_NOFILE, &limit, 0);
}
int set_groups_none(void) { return (int)CALL(__NR_setgroups, 0, 0); }
int setresgid(gid_t real, gid_t effective, gid_t saved) { return (int)CALL(__NR_setresgid, real, effective, saved); }
int setresuid(uid_t real, uid_t effective, uid_t saved) { return (int)CALL(__NR_setresuid, real, effective, saved); }
int drop_all_capabilities(void) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct none[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
    return (int)CALL(__NR_capset, &header, none);
}
uid_t geteuid(void) { return (uid_t)CALL(__NR_geteuid, 0); }
gid_t getegid(void) { return (gid_t)CALL(__NR_getegid, 0); }

// SIGCHLD is 17 on both architectures.
pid_t fork_into(unsigned long namespaces) { return (pid_t)CALL(__NR_clone, namespaces | 17, 0, 0, 0, 0); }
pid_t wait_for(pid_t process, int *status) { return (pid_t)CALL(__NR_wait4, process, status, 0, 0); }
int execute(const char *path, char *const arguments[]) { return (int)CALL(__NR_execve, path, arguments, environment); }

int set_signal_ignored(int signal, bool ignore) {
    // The kernel's struct sigaction: no handler runs, so no restorer is needed.
    struct { unsigned long handler, flags, restorer, mask; } action = { ignore ? 1 : 0, 0, 0, 0 };
    return (int)CALL(__NR_rt_sigaction, signal, &action, 0, sizeof action.mask);
}

int bring_loopback_up(void) {
    enum { INET = 2, DATAGRAM = 2, GET_FLAGS = 0x8913, SET_FLAGS = 0x8914, UP = 1 };
    int sock = (int)CALL(__NR_socket, INET, DATAGRAM | O_CLOEXEC, 0);
    if (sock < 0) return -1;
    // struct ifreq: the interface's name, then its flags.
    struct { char name[16]; short flags; char rest[22]; } request;
    memset(&request, 0, sizeof request);
    memcpy(request.name, "lo", 3);
    int result = (int)CALL(__NR_ioctl, sock, GET_FLAGS, &request);
    if (result == 0) {
        request.flags |= UP;
        result = (int)CALL(__NR_ioctl, sock, SET_FLAGS, &request);
    }
    int saved = errno;
    close(sock);
    errno = saved;
    return result;
}

void exit_now(int status) {
    for (;;) CALL(__NR_exit_group, status);
}

size_t strlen(const char *text) {
    size_t length = 0;
    while (text[length]) length++;
    return length;
}

int strcmp(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

char *strchr(const char *text, int character) {
    for (;; text++) {
        if (*text == (char)character) return (char *)text;
        if (!*text) return NULL;
    }
}

// The compiler may call these two for struct copies and initialisations.
void *memset(void *destination, int value, size_t count) {
    unsigned char *bytes = destination;
    while (count--) *bytes++ = (unsigned char)value;
    return destination;
}

void *memcpy(void *destination, const void *source, size_t count) {
    unsigned char *to = destination;
    const unsigned char *from = source;
    while (count--) *to++ = *from++;
    return destination;
}

long long parse_number(const char *text, int base, long long minimum, long long maximum) {
    if (!*text) return -1;
    long long value = 0;
    for (const char *digit = text; *digit; digit++) {
        int number = *digit - '0';
        if (number < 0 || number >= base || value > (maximum - number) / base) return -1;
        value = value * base + number;
    }
    return value < minimum ? -1 : value;
}

int format_list(char *buffer, size_t size, const char *pattern, va_list arguments) {
    size_t length = 0;
#define PUT(character) do { if (length + 1 < size) buffer[length] = (character); length++; } while (0)
    for (const char *at = pattern; *at; at++) {
        if (*at != '%') {
            PUT(*at);
            continue;
        }
        at++;
        bool zeros = *at == '0';
        int width = 0;
        while (*at >= '0' && *at <= '9') width = width * 10 + (*at++ - '0');
        if (*at == 's') {
            const char *text = va_arg(arguments, const char *);
            while (*text) PUT(*text++);
        } else if (*at == 'd' || *at == 'o') {
            long long value = va_arg(arguments, int);
            unsigned base = *at == 'd' ? 10 : 8;
            char digits[24];
            int count = 0;
            bool negative = value < 0;
            unsigned long long magnitude = negative ? -(unsigned long long)value : (unsigned long long)value;
            do digits[count++] = (char)('0' + magnitude % base); while ((magnitude /= base) != 0);
            if (negative) PUT('-');
            for (int pad = count; pad < width; pad++) PUT(zeros ? '0' : ' ');
            while (count) PUT(digits[--count]);
        } else {
            PUT('%');
            if (*at) PUT(*at);
            else break;
        }
    }
#undef PUT
    if (size) buffer[length < size ? length : size - 1] = '\0';
    return (int)length;
}

int format(char *buffer, size_t size, const char *pattern, ...) {
    va_list arguments;
    va_start(arguments, pattern);
    int length = format_list(buffer, size, pattern, arguments);
    va_end(arguments);
    return length;
}

const char *error_text(int number) {
    switch (number) {
    case EPERM: return "Operation not permitted (EPERM)";
    case ENOENT: return "No such file or directory (ENOENT)";
    case EINTR: return "Interrupted (EINTR)";
    case EIO: return "Input/output error (EIO)";
    case E2BIG: return "Argument list too long (E2BIG)";
    case ENOEXEC: return "Exec format error (ENOEXEC)";
    case ECHILD: return "No child processes (ECHILD)";
    case EAGAIN: return "Resource temporarily unavailable (EAGAIN)";
    case ENOMEM: return "Cannot allocate memory (ENOMEM)";
    case EACCES: return "Permission denied (EACCES)";
    case EBUSY: return "Device or resource busy (EBUSY)";
    case EEXIST: return "File exists (EEXIST)";
    case ENOTDIR: return "Not a directory (ENOTDIR)";
    case EISDIR: return "Is a directory (EISDIR)";
    case EINVAL: return "Invalid argument (EINVAL)";
    case EMFILE: return "Too many open files (EMFILE)";
    case ENOSPC: return "No space left on device (ENOSPC)";
    case EROFS: return "Read-only file system (EROFS)";
    case ENAMETOOLONG: return "File name too long (ENAMETOOLONG)";
    case ENOSYS: return "Function not implemented: the kernel is too old (ENOSYS)";
    case ELOOP: return "Too many levels of symbolic links (ELOOP)";
    case EUSERS: return "Too many users (EUSERS)";
    default: {
        static char unknown[32];
        format(unknown, sizeof unknown, "error %d", number);
        return unknown;
    }
    }
}

void say(const char *text) {
    size_t left = strlen(text);
    while (left > 0) {
        long written = write(2, text, left);
        if (written <= 0) return;
        text += written;
        left -= (size_t)written;
    }
}

int fail(const char *pattern, ...) {
    int saved = errno;
    char message[8192];
    va_list arguments;
    va_start(arguments, pattern);
    int length = format(message, sizeof message, "baton-confine: ");
    format_list(message + length, sizeof message - (size_t)length, pattern, arguments);
    va_end(arguments);
    say(message);
    say(": ");
    say(error_text(saved));
    say("\n");
    errno = saved;
    return -1;
}
