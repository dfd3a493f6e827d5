import BatonCore
import Foundation

/// The first start of a server: with no live token at all, one admin token is created, its
/// secret written to `<data-dir>/admin.token` (readable by its owner only), where the CLI on the
/// same machine finds it.
public enum AdminTokenBootstrap {
    /// The file holding the first admin token.
    public static func tokenFile(inDataDirectory directory: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent("admin.token").path
    }

    /// Creates the admin token when the store has no live token; returns its secret then (to
    /// print once), `nil` otherwise.
    public static func ensureAdminToken(tokens: any TokenStore, dataDirectory: String) async throws -> String? {
        guard try await tokens.liveTokenCount() == 0 else { return nil }
        let secret = TokenSecret.generate()
        let path = tokenFile(inDataDirectory: dataDirectory)
        // Written first, with 0600 from the start: the secret is never readable by others, and a
        // failure leaves no token nobody knows.
        // O_NOFOLLOW: a symlink planted in its place must not receive the secret.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw TokenStoreError(message: "cannot write \(path): \(String(cString: strerror(errno))); check that the data directory is writable")
        }
        let bytes = Array((secret + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        fchmod(descriptor, 0o600)
        close(descriptor)
        guard written == bytes.count else {
            throw TokenStoreError(message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        _ = try await tokens.createToken(name: "admin", role: .admin, secretHash: TokenSecret.hash(secret), now: Date())
        return secret
    }
}
