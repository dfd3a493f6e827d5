/// The version of this Baton build.
public enum BatonVersion {
    public static let current = "0.1.0"
}
