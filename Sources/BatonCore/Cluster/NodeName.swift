/// What a node's name may be: it appears in URLs, logs and the CLI's `--node`, so it is plain.
public enum NodeName {
    /// 1 to 128 ASCII letters, digits and `.`, `_`, `:`, `-`; `*` stands for every node.
    public static func isValid(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x3A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }
}
