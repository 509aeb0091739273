public enum FaceWGANInfo { public static let version = "0.1.0" }
