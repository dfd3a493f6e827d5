import Foundation
import Subprocess
import SystemPackage

/// The unprivileged user plans run as when the server runs as root (`--plan-user`, design §11).
///
/// `baton-confine` then builds the sandbox as root, to mount what the plan may see (the
/// interpreter and workspace even where they lie under root's home), and becomes this user just
/// before Python starts: every capability gone, no way back. A server that is not root runs
/// plans as its own user inside a user namespace instead, and needs none of this.
public struct PlanUser: Sendable, Hashable {
    public let name: String
    public let uid: uid_t
    public let gid: gid_t

    /// Made when the server runs as root and no `--plan-user` is given.
    public static let defaultName = "baton-plan"

    /// The user called `name` (a name or a number); the default user is created as a system user
    /// when it does not exist yet.
    static func resolve(_ name: String?, path: String) async throws(PlanUserError) -> PlanUser {
        let wanted = name ?? defaultName
        if let found = lookUp(wanted) { return try check(PlanUser(name: found.name, uid: found.uid, gid: found.gid)) }
        guard name == nil else {
            throw PlanUserError("--plan-user \(wanted) is not a user on this machine: create it (useradd --system \(wanted)) or name another")
        }
        try await createDefault(path: path)
        guard let made = lookUp(wanted) else { throw PlanUserError("the user \(wanted) was created but cannot be found") }
        return try check(PlanUser(name: made.name, uid: made.uid, gid: made.gid))
    }

    private static func check(_ user: PlanUser) throws(PlanUserError) -> PlanUser {
        guard user.uid != 0, user.gid != 0 else {
            throw PlanUserError("--plan-user \(user.name) is root or in root's group; plans never run as root: name an unprivileged user")
        }
        return user
    }

    private static func lookUp(_ name: String) -> (name: String, uid: uid_t, gid: gid_t)? {
        let entry = uid_t(name).map { getpwuid($0) } ?? getpwnam(name)
        guard let entry else { return nil }
        return (String(cString: entry.pointee.pw_name), entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// `useradd --system` of the default user: no home, no login shell, a group of its own.
    private static func createDefault(path: String) async throws(PlanUserError) {
        guard let useradd = Executables.find("useradd", on: path + ":/usr/sbin:/sbin") else {
            throw PlanUserError("there is no user \(defaultName) and no useradd to create it: create an unprivileged user and pass it with --plan-user")
        }
        let arguments = ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", defaultName]
        let problem: String?
        do {
            let result = try await Subprocess.run(.path(FilePath(useradd)), arguments: Arguments(arguments), output: .discarded, error: .string(limit: 4096))
            // Exit 9: another server created it a moment ago.
            if case .exited(let code) = result.terminationStatus, code == 0 || code == 9 {
                problem = nil
            } else {
                problem = "\(result.terminationStatus): \(result.standardError)"
            }
        } catch {
            problem = "\(error)"
        }
        if let problem { throw PlanUserError("useradd could not create the user \(defaultName) (\(problem)): create it, or pass another with --plan-user") }
    }
}

/// No unprivileged user to run plans as.
public struct PlanUserError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Finding programs on a search path.
enum Executables {
    static func find(_ name: String, on path: String) -> String? {
        path.split(separator: ":").map { $0 + "/" + name }.first(where: FileManager.default.isExecutableFile(atPath:))
    }
}
