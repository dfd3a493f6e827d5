import CBatonProcess
import Foundation

/// Gives the plan user read and write access to the workspace with POSIX ACL entries, leaving
/// owners and modes as they are: the workspace stays the server's, and plans can still write
/// caches, reports and artefacts in it (design §11).
///
/// Every directory also gets a default entry, so what is created in it later, by the server's
/// side or by a plan, is open to the plan user too. The ACLs are written as the kernel's
/// `system.posix_acl_*` attributes directly: nothing outside the base system is needed.
enum WorkspaceAccess {
    /// Grants `uid` access to `root` and everything under it (symbolic links are not followed).
    static func grant(_ uid: uid_t, to root: String) throws(WorkspaceAccessError) {
        try grantOne(uid, path: root)
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        for case let relative as String in walker {
            // Best effort inside: a read-only mount or a file in use keeps what it had.
            try? grantOne(uid, path: root + "/" + relative)
        }
    }

    private static func grantOne(_ uid: uid_t, path: String) throws(WorkspaceAccessError) {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw WorkspaceAccessError(path: path, errno: errno) }
        let type = status.st_mode & S_IFMT
        guard type == S_IFDIR || type == S_IFREG else { return }
        let isDirectory = type == S_IFDIR
        let ownerExecutes = status.st_mode & S_IXUSR != 0
        let permissions: UInt16 = isDirectory || ownerExecutes ? 7 : 6
        let access = (ACL(attribute: "system.posix_acl_access", of: path) ?? ACL(mode: status.st_mode)).granting(uid, permissions)
        try access.write(attribute: "system.posix_acl_access", to: path)
        if isDirectory {
            let inherited = (ACL(attribute: "system.posix_acl_default", of: path) ?? ACL(mode: status.st_mode)).granting(uid, 7)
            try inherited.write(attribute: "system.posix_acl_default", to: path)
        }
    }
}

/// A POSIX ACL in the kernel's extended-attribute form.
private struct ACL {
    struct Entry {
        let tag: UInt16
        let permissions: UInt16
        let id: UInt32
    }

    static let userObject: UInt16 = 0x01, user: UInt16 = 0x02, groupObject: UInt16 = 0x04
    static let group: UInt16 = 0x08, mask: UInt16 = 0x10, other: UInt16 = 0x20
    static let version: UInt32 = 2
    static let noID = UInt32.max

    var entries: [Entry]

    /// The ACL equivalent to a file's mode bits.
    init(mode: mode_t) {
        let bits = UInt16(mode & 0o777)
        entries = [Entry(tag: Self.userObject, permissions: bits >> 6, id: Self.noID),
                   Entry(tag: Self.groupObject, permissions: (bits >> 3) & 7, id: Self.noID),
                   Entry(tag: Self.other, permissions: bits & 7, id: Self.noID)]
    }

    /// The ACL stored on `path`, if it has one.
    init?(attribute: String, of path: String) {
        let size = getxattr(path, attribute, nil, 0)
        guard size > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: size)
        let count = getxattr(path, attribute, &bytes, bytes.count)
        guard count >= 4, (count - 4) % 8 == 0 else { return nil }
        func little<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            (0..<MemoryLayout<T>.size).reduce(T.zero) { $0 | T(bytes[offset + $1]) << (8 * $1) }
        }
        guard little(0, UInt32.self) == Self.version else { return nil }
        entries = stride(from: 4, to: count, by: 8).map {
            Entry(tag: little($0, UInt16.self), permissions: little($0 + 2, UInt16.self), id: little($0 + 4, UInt32.self))
        }
    }

    /// This ACL with `uid` given `permissions`, and the mask widened to let them through.
    func granting(_ uid: uid_t, _ permissions: UInt16) -> ACL {
        var entries = entries.filter { !($0.tag == Self.user && $0.id == uid) && $0.tag != Self.mask }
        entries.append(Entry(tag: Self.user, permissions: permissions, id: uid))
        let groupClass = entries.filter { [Self.user, Self.groupObject, Self.group].contains($0.tag) }
        entries.append(Entry(tag: Self.mask, permissions: groupClass.reduce(0) { $0 | $1.permissions }, id: Self.noID))
        var acl = self
        acl.entries = entries.sorted { ($0.tag, $0.id) < ($1.tag, $1.id) }
        return acl
    }

    func write(attribute: String, to path: String) throws(WorkspaceAccessError) {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(Self.version)
        for entry in entries {
            append(entry.tag)
            append(entry.permissions)
            append(entry.id)
        }
        guard setxattr(path, attribute, bytes, bytes.count, 0) == 0 else { throw WorkspaceAccessError(path: path, errno: errno) }
    }
}

/// The workspace cannot be opened to the plan user.
struct WorkspaceAccessError: Error, CustomStringConvertible {
    let path: String
    let errno: Int32

    var description: String {
        let reason = errno == EOPNOTSUPP
            ? "its file system does not support POSIX ACLs"
            : String(cString: strerror(errno))
        return "cannot give the plan user access to \(path) (\(reason)): make the workspace writable for that user yourself"
    }
}
