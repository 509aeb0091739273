import FaceWGAN
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny generator whose output depends on the seed alone,
/// on every platform, so a face set can be redrawn byte for byte.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [a, b).
    mutating func uniform(_ a: Float = 0, _ b: Float = 1) -> Float {
        a + (b - a) * Float(next() >> 40) / Float(1 << 24)
    }

    mutating func chance(_ probability: Float) -> Bool { uniform() < probability }

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(next() % UInt64(choices.count))] }

    /// `colour` with each component moved by up to +-`amount`.
    mutating func jitter(_ colour: Colour, _ amount: Float) -> Colour {
        Colour(max(0, min(1, colour.red + uniform(-amount, amount))),
               max(0, min(1, colour.green + uniform(-amount, amount))),
               max(0, min(1, colour.blue + uniform(-amount, amount))))
    }
}

/// Everything that varies from one face to the next, drawn from a seed. Positions are in unit
/// coordinates of the image ((0, 0) top-left, (1, 1) bottom-right).
struct FaceTraits {
    enum HairStyle: CaseIterable { case short, long, fringe, bald, curly }
    enum MouthStyle: CaseIterable { case neutral, smile, grin }
    enum BackgroundStyle: CaseIterable { case flat, vertical, diagonal, radial }

    // Head: an ellipse whose lower half is narrowed by `jaw` (1: round, 0.8: pointed chin).
    var centreX: Float, centreY: Float, radiusX: Float, radiusY: Float, jaw: Float
    var skin: Colour
    /// Unit vector towards the light (x right, y down, z out of the image).
    var light: (Float, Float, Float)
    var ambient: Float

    var background: BackgroundStyle
    var backgroundColours: (Colour, Colour)
    var shirt: Colour

    var hairStyle: HairStyle
    var hair: Colour
    var hairLength: Float
    var hairline: Float
    var parting: Float

    var eyeSpacing: Float, eyeHeight: Float, eyeWidth: Float, eyeOpen: Float
    var iris: Colour
    var gaze: Float
    var browThickness: Float, browTilt: Float, browLift: Float

    var noseHeight: Float, noseWidth: Float
    var mouthStyle: MouthStyle
    var mouthHeight: Float, mouthWidth: Float
    var lips: Colour
    var blush: Bool

    var glasses: Bool, sunglasses: Bool
    var frame: Colour
    var moustache: Bool

    static let skinTones: [Colour] = [
        Colour(bytes: 255, 226, 200), Colour(bytes: 246, 208, 178), Colour(bytes: 238, 194, 160),
        Colour(bytes: 226, 178, 140), Colour(bytes: 214, 160, 118), Colour(bytes: 192, 136, 96),
        Colour(bytes: 168, 112, 76), Colour(bytes: 140, 92, 62), Colour(bytes: 112, 72, 48),
        Colour(bytes: 88, 56, 38),
    ]
    static let hairColours: [Colour] = [
        Colour(bytes: 28, 24, 24), Colour(bytes: 28, 24, 24), Colour(bytes: 60, 40, 28), Colour(bytes: 60, 40, 28),
        Colour(bytes: 102, 66, 38), Colour(bytes: 140, 90, 50), Colour(bytes: 156, 70, 36),
        Colour(bytes: 214, 176, 110), Colour(bytes: 232, 210, 160), Colour(bytes: 150, 146, 144),
        Colour(bytes: 225, 222, 218),
    ]
    static let irisColours: [Colour] = [
        Colour(bytes: 96, 58, 30), Colour(bytes: 60, 36, 22), Colour(bytes: 62, 112, 180),
        Colour(bytes: 70, 126, 80), Colour(bytes: 136, 108, 52), Colour(bytes: 110, 124, 136),
    ]
    static let lipColours: [Colour] = [
        Colour(bytes: 196, 90, 90), Colour(bytes: 170, 70, 80), Colour(bytes: 214, 110, 120),
        Colour(bytes: 150, 50, 60), Colour(bytes: 190, 60, 70),
    ]

    init(random: inout SplitMix64) {
        radiusX = random.uniform(0.205, 0.255)
        radiusY = min(radiusX * random.uniform(1.12, 1.4), 0.34)
        centreX = 0.5 + random.uniform(-0.035, 0.035)
        centreY = 0.5 + random.uniform(-0.02, 0.035)
        jaw = random.uniform(0.78, 1.0)
        skin = random.jitter(random.pick(Self.skinTones), 0.025)
        let lx = random.uniform(-0.75, 0.75), ly = random.uniform(-0.7, -0.1), lz: Float = 0.9
        let length = (lx * lx + ly * ly + lz * lz).squareRoot()
        light = (lx / length, ly / length, lz / length)
        ambient = random.uniform(0.45, 0.65)

        background = random.pick(BackgroundStyle.allCases)
        func backgroundColour(_ random: inout SplitMix64) -> Colour {
            let hue = random.uniform(0, 6), saturation = random.uniform(0.15, 0.6), value = random.uniform(0.45, 0.95)
            return hsv(hue, saturation, value)
        }
        let first = backgroundColour(&random)
        backgroundColours = (first, random.chance(0.5) ? backgroundColour(&random) : first.scaled(random.uniform(0.6, 0.85)))
        shirt = hsv(random.uniform(0, 6), random.uniform(0.1, 0.8), random.uniform(0.2, 0.9))

        let styles: [HairStyle] = [.short, .short, .short, .long, .long, .long, .fringe, .fringe, .bald, .curly, .curly]
        hairStyle = random.pick(styles)
        hair = random.jitter(random.pick(Self.hairColours), 0.03)
        hairLength = random.uniform(0.5, 1.35)
        hairline = random.uniform(0.42, 0.62)
        parting = random.uniform(-0.6, 0.6)

        eyeSpacing = random.uniform(0.37, 0.47)
        eyeHeight = random.uniform(0.02, 0.16)
        eyeWidth = random.uniform(0.04, 0.052)
        eyeOpen = random.uniform(0.5, 0.75)
        iris = random.jitter(random.pick(Self.irisColours), 0.03)
        gaze = random.uniform(-0.35, 0.35)
        browThickness = random.uniform(0.008, 0.016)
        browTilt = random.uniform(-0.25, 0.3)
        browLift = random.uniform(0.045, 0.075)

        noseHeight = random.uniform(0.22, 0.34)
        noseWidth = random.uniform(0.024, 0.038)
        mouthStyle = random.pick(MouthStyle.allCases)
        mouthHeight = random.uniform(0.52, 0.62)
        mouthWidth = random.uniform(0.32, 0.5)
        lips = random.chance(0.5) ? random.pick(Self.lipColours)
                                  : skin.mixed(with: Colour(bytes: 170, 60, 60), random.uniform(0.35, 0.6))
        blush = random.chance(0.3)

        glasses = random.chance(0.22)
        sunglasses = glasses && random.chance(0.25)
        frame = random.pick([Colour(bytes: 20, 20, 22), Colour(bytes: 90, 50, 30), Colour(bytes: 180, 180, 185),
                             Colour(bytes: 160, 30, 40), Colour(bytes: 30, 50, 120)])
        moustache = hairStyle != .long && random.chance(0.1)
    }
}

/// Draws one face of `traits` on a supersampled canvas: background, shoulders, hair behind the head,
/// neck, ears, the shaded head, hair in front, brows, eyes, nose, mouth, glasses.
struct FaceArtist {
    let traits: FaceTraits
    let canvas: Canvas

    init(traits: FaceTraits, size: Int) {
        self.traits = traits
        canvas = Canvas(size: size)
    }

    /// The rendered face, antialiased by the canvas's box downsampling.
    func draw() -> RGBImage {
        drawBackground()
        drawShoulders()
        drawHairBehind()
        drawNeck()
        if traits.hairStyle != .long { drawEars() }
        drawHead()
        drawHairInFront()
        drawBrows()
        drawEyes()
        drawNose()
        drawMouth()
        if traits.moustache { drawMoustache() }
        if traits.glasses { drawGlasses() }
        return canvas.downsampled()
    }

    // MARK: Geometry and light

    var t: FaceTraits { traits }

    /// The point in the head's frame: (0, 0) at the centre, +-1 at the outline (the lower half narrowed
    /// by the jaw).
    func head(_ x: Float, _ y: Float) -> (Float, Float) {
        let dy = y - t.centreY
        let width = dy > 0 ? t.radiusX * (1 - (1 - t.jaw) * min(1, dy / t.radiusY)) : t.radiusX
        return ((x - t.centreX) / width, dy / t.radiusY)
    }

    func insideHead(_ x: Float, _ y: Float) -> Bool {
        let (u, v) = head(x, y)
        return u * u + v * v <= 1
    }

    /// Lambert shading of a sphere-like surface at local coordinates (u, v), between ambient and 1.15.
    func shade(_ u: Float, _ v: Float) -> Float {
        let r2 = min(1, u * u + v * v)
        let z = (1 - r2).squareRoot()
        let diffuse = max(0, u * t.light.0 + v * t.light.1 + z * t.light.2)
        return t.ambient + (1.15 - t.ambient) * diffuse
    }

    var headBounds: (Float, Float, Float, Float) {
        (t.centreX - t.radiusX - 0.01, t.centreY - t.radiusY - 0.01, t.centreX + t.radiusX + 0.01, t.centreY + t.radiusY + 0.01)
    }

    // MARK: Layers

    func drawBackground() {
        let (a, b) = t.backgroundColours
        switch t.background {
        case .flat: canvas.fillAll { _, _ in a }
        case .vertical: canvas.fillAll { _, y in a.mixed(with: b, y) }
        case .diagonal: canvas.fillAll { x, y in a.mixed(with: b, (x + y) / 2) }
        case .radial:
            canvas.fillAll { x, y in
                let d = ((x - 0.5) * (x - 0.5) + (y - 0.45) * (y - 0.45)).squareRoot()
                return a.mixed(with: b, min(1, d * 1.5))
            }
        }
    }

    func drawShoulders() {
        let body = Ellipse(cx: t.centreX, cy: 1.12, rx: 0.44, ry: 0.3)
        let shirt = t.shirt
        let top = t.centreY + t.radiusY - 0.04
        canvas.fill(bounds: body.bounds, inside: { x, y in body.contains(x, y) && y > top }) { x, y in
            let (u, v) = body.local(x, y)
            return shirt.scaled(0.55 + 0.5 * self.shade(u * 0.8, v * 0.8))
        }
    }

    /// Hair colour with a soft shade over the hair mass (u, v in its frame) and faint strands.
    func hairColour(_ x: Float, _ y: Float, _ u: Float, _ v: Float) -> Colour {
        let strands = 1 + 0.05 * sin(x * 140 + sin(y * 30) * 2)
        return t.hair.scaled((0.45 + 0.55 * shade(u * 0.9, v * 0.9)) * strands)
    }

    /// The hair that lies behind the head: long hair down to the shoulders, or a curly mass.
    func drawHairBehind() {
        switch t.hairStyle {
        case .long:
            let top = Ellipse(cx: t.centreX, cy: t.centreY - 0.01, rx: t.radiusX * 1.22, ry: t.radiusY * 1.12)
            let bottom = t.centreY + t.radiusY * t.hairLength
            let bounds = (top.cx - top.rx, top.cy - top.ry, top.cx + top.rx, min(1, bottom + 0.05))
            canvas.fill(bounds: bounds, inside: { x, y in
                if y < top.cy { return top.contains(x, y) }
                // Straight sides that curl in a little at the tips.
                let tip = max(0, (y - (bottom - 0.06)) / 0.06)
                return abs(x - top.cx) <= top.rx * (1 - 0.15 * tip * tip) && y <= bottom + 0.02 * cos((x - top.cx) * 20)
            }) { x, y in
                let u = (x - top.cx) / top.rx, v = max(-1, min(1, (y - top.cy) / top.ry))
                return self.hairColour(x, y, u, v).scaled(0.8)
            }
        case .curly:
            let cx = t.centreX, cy = t.centreY - t.radiusY * 0.12
            let rx = t.radiusX * 1.45, ry = t.radiusY * 1.15
            let lobes = Float(9)
            canvas.fill(bounds: (cx - rx * 1.1, cy - ry * 1.1, cx + rx * 1.1, cy + ry * 1.1), inside: { x, y in
                let u = (x - cx) / rx, v = (y - cy) / ry
                let angle = atan2(v, u)
                let edge = 0.93 + 0.07 * cos(angle * lobes * 2)
                return u * u + v * v <= edge * edge && y < self.t.centreY + self.t.radiusY * 0.55
            }) { x, y in
                let u = (x - cx) / rx, v = (y - cy) / ry
                let curl = 1 + 0.08 * sin(x * 260) * sin(y * 260)
                return self.t.hair.scaled((0.45 + 0.55 * self.shade(u * 0.9, v * 0.9)) * curl)
            }
        default: break
        }
    }

    func drawNeck() {
        let halfWidth = t.radiusX * 0.5
        let top = t.centreY + t.radiusY * 0.3, bottom = t.centreY + t.radiusY + 0.12
        let skin = t.skin
        canvas.fill(bounds: (t.centreX - halfWidth, top, t.centreX + halfWidth, bottom), inside: { _, _ in true }) { x, y in
            let u = (x - self.t.centreX) / halfWidth
            return skin.scaled(0.78 * (0.7 + 0.3 * self.shade(u, 0)))
        }
    }

    func drawEars() {
        for side: Float in [-1, 1] {
            let ear = Ellipse(cx: t.centreX + side * t.radiusX * 0.97, cy: t.centreY + 0.01, rx: 0.032, ry: 0.055)
            canvas.fill(bounds: ear.bounds, inside: ear.contains) { x, y in
                let (u, v) = self.head(x, y)
                return self.t.skin.scaled(0.92 * self.shade(u * 0.9, v))
            }
            let inner = Ellipse(cx: ear.cx + side * 0.006, cy: ear.cy, rx: 0.014, ry: 0.03)
            canvas.fill(bounds: inner.bounds, alpha: 0.5, inside: inner.contains) { _, _ in self.t.skin.scaled(0.6) }
        }
    }

    func drawHead() {
        canvas.fill(bounds: headBounds, inside: insideHead) { x, y in
            let (u, v) = self.head(x, y)
            return self.t.skin.scaled(self.shade(u, v))
        }
        if t.blush {
            for side: Float in [-1, 1] {
                let cheek = Ellipse(cx: t.centreX + side * t.radiusX * 0.55, cy: t.centreY + t.radiusY * 0.3,
                                    rx: t.radiusX * 0.2, ry: t.radiusY * 0.1)
                canvas.fill(bounds: cheek.bounds, alpha: 0.25, inside: cheek.contains) { _, _ in
                    Colour(bytes: 230, 100, 110)
                }
            }
        }
    }

    /// Hair over the forehead and the top of the head, by style.
    func drawHairInFront() {
        let cap = Ellipse(cx: t.centreX, cy: t.centreY - t.radiusY * 0.04, rx: t.radiusX * 1.1, ry: t.radiusY * 1.1)
        let bounds = (cap.cx - cap.rx - 0.02, cap.cy - cap.ry - 0.02, cap.cx + cap.rx + 0.02, t.centreY + t.radiusY)
        func colour(_ x: Float, _ y: Float) -> Colour {
            let (u, v) = cap.local(x, y)
            return hairColour(x, y, u, v)
        }
        let cy = t.centreY, ry = t.radiusY, rx = t.radiusX, cx = t.centreX
        switch t.hairStyle {
        case .short, .long:
            // The hairline dips at the temples and rises to a side parting.
            let line = cy - ry * t.hairline
            let long = t.hairStyle == .long
            canvas.fill(bounds: bounds, inside: { x, y in
                guard cap.contains(x, y) else { return false }
                let d = (x - cx) / rx
                let sweep = 0.06 * ry * sin((d - self.t.parting) * 2.2)
                let temples = ry * 0.55 * max(0, abs(d) - 0.55)
                if y < line + sweep + temples { return true }
                // Long hair falls beside the face; short hair keeps sideburns.
                return long ? abs(d) > 0.72 - 0.1 * max(0, (y - cy) / ry) : (abs(d) > 0.9 && y < cy)
            }, colour: colour)
        case .fringe:
            canvas.fill(bounds: bounds, inside: { x, y in
                guard cap.contains(x, y) else { return false }
                let d = (x - cx) / rx
                let bangs = cy - ry * 0.32 + 0.012 * sin(x * 90) + ry * 0.25 * d * d
                return y < bangs || (abs(d) > 0.88 && y < cy + ry * 0.25)
            }, colour: colour)
        case .bald:
            canvas.fill(bounds: bounds, inside: { x, y in
                guard self.insideHead(x, y) || cap.contains(x, y) else { return false }
                let d = (x - cx) / rx
                return abs(d) > 0.86 && y > cy - ry * 0.45 && y < cy + ry * 0.05
            }, colour: colour)
            // A highlight on the scalp.
            let shine = Ellipse(cx: cx + t.light.0 * rx * 0.4, cy: cy - ry * 0.7, rx: rx * 0.25, ry: ry * 0.1)
            canvas.fill(bounds: shine.bounds, alpha: 0.18, inside: shine.contains) { _, _ in Colour(1, 1, 1) }
        case .curly:
            canvas.fill(bounds: bounds, inside: { x, y in
                guard cap.contains(x, y) else { return false }
                let d = (x - cx) / rx
                let bumps = cy - ry * 0.45 + 0.02 * abs(sin(x * 55)) + ry * 0.35 * d * d
                return y < bumps
            }) { x, y in
                let (u, v) = cap.local(x, y)
                let curl = 1 + 0.08 * sin(x * 260) * sin(y * 260)
                return self.t.hair.scaled((0.45 + 0.55 * self.shade(u * 0.9, v * 0.9)) * curl)
            }
        }
    }

    var eyeY: Float { t.centreY - t.radiusY * t.eyeHeight }
    func eyeX(_ side: Float) -> Float { t.centreX + side * t.radiusX * t.eyeSpacing }

    func drawBrows() {
        let browColour = t.hairStyle == .bald ? Colour(bytes: 60, 44, 34) : t.hair.scaled(0.7)
        for side: Float in [-1, 1] {
            let brow = Ellipse(cx: eyeX(side) + side * 0.004, cy: eyeY - t.browLift,
                               rx: t.eyeWidth * 1.25, ry: t.browThickness, angle: -side * t.browTilt)
            canvas.fill(bounds: brow.bounds, inside: brow.contains) { _, _ in browColour }
        }
    }

    func drawEyes() {
        for side: Float in [-1, 1] {
            let white = Ellipse(cx: eyeX(side), cy: eyeY, rx: t.eyeWidth, ry: t.eyeWidth * t.eyeOpen)
            // A dark lid line above the eye, then the white, the iris, the pupil and a glint.
            let lid = Ellipse(cx: white.cx, cy: white.cy - 0.003, rx: white.rx + 0.007, ry: white.ry + 0.008)
            canvas.fill(bounds: lid.bounds, inside: { x, y in lid.contains(x, y) && y < white.cy + 0.002 }) { _, _ in
                Colour(bytes: 40, 28, 26)
            }
            canvas.fill(bounds: white.bounds, inside: white.contains) { _, _ in Colour(bytes: 246, 244, 240) }
            let irisRadius = white.ry * 1.0
            let iris = Ellipse(cx: white.cx + t.gaze * white.rx * 0.4, cy: white.cy, rx: irisRadius, ry: irisRadius)
            canvas.fill(bounds: iris.bounds, inside: { x, y in iris.contains(x, y) && white.contains(x, y) }) { x, y in
                let (u, v) = iris.local(x, y)
                return self.t.iris.scaled(1.05 - 0.35 * (u * u + v * v))
            }
            let pupil = Ellipse(cx: iris.cx, cy: iris.cy, rx: irisRadius * 0.48, ry: irisRadius * 0.48)
            canvas.fill(bounds: pupil.bounds, inside: pupil.contains) { _, _ in Colour(bytes: 12, 10, 10) }
            let glint = Ellipse(cx: iris.cx + t.light.0 * irisRadius * 0.45, cy: iris.cy - irisRadius * 0.4,
                                rx: irisRadius * 0.28, ry: irisRadius * 0.28)
            canvas.fill(bounds: glint.bounds, alpha: 0.9, inside: glint.contains) { _, _ in Colour(1, 1, 1) }
        }
    }

    func drawNose() {
        let tipY = t.centreY + t.radiusY * t.noseHeight
        let cx = t.centreX
        // The side of the nose away from the light carries a soft shadow along its bridge.
        let away: Float = t.light.0 > 0 ? -1 : 1
        let bridge = Ellipse(cx: cx + away * t.noseWidth * 0.55, cy: tipY - 0.035, rx: t.noseWidth * 0.3, ry: 0.045)
        canvas.fill(bounds: bridge.bounds, alpha: 0.22, inside: bridge.contains) { _, _ in self.t.skin.scaled(0.5) }
        let tip = Ellipse(cx: cx, cy: tipY, rx: t.noseWidth, ry: t.noseWidth * 0.7)
        canvas.fill(bounds: tip.bounds, alpha: 0.35, inside: { x, y in tip.contains(x, y) && y > tip.cy - tip.ry * 0.2 }) { _, _ in
            self.t.skin.scaled(0.62)
        }
        for side: Float in [-1, 1] {
            let nostril = Ellipse(cx: cx + side * t.noseWidth * 0.5, cy: tipY + t.noseWidth * 0.25,
                                  rx: t.noseWidth * 0.3, ry: t.noseWidth * 0.2)
            canvas.fill(bounds: nostril.bounds, alpha: 0.7, inside: nostril.contains) { _, _ in self.t.skin.scaled(0.35) }
        }
    }

    func drawMouth() {
        let cy = t.centreY + t.radiusY * t.mouthHeight
        let cx = t.centreX, width = t.radiusX * t.mouthWidth
        let lips = t.lips
        switch t.mouthStyle {
        case .neutral:
            let upper = Ellipse(cx: cx, cy: cy - 0.006, rx: width, ry: 0.011)
            let lower = Ellipse(cx: cx, cy: cy + 0.006, rx: width * 0.85, ry: 0.015)
            canvas.fill(bounds: lower.bounds, inside: lower.contains) { _, _ in lips }
            canvas.fill(bounds: upper.bounds, inside: upper.contains) { _, _ in lips.scaled(0.85) }
            let line = Ellipse(cx: cx, cy: cy + 0.001, rx: width * 0.98, ry: 0.0035)
            canvas.fill(bounds: line.bounds, inside: line.contains) { _, _ in lips.scaled(0.45) }
        case .smile:
            // A crescent: the lower half of one ellipse minus a higher, wider one.
            let outer = Ellipse(cx: cx, cy: cy - 0.025, rx: width, ry: 0.05)
            let inner = Ellipse(cx: cx, cy: cy - 0.042, rx: width * 1.12, ry: 0.045)
            canvas.fill(bounds: outer.bounds, inside: { x, y in
                y > outer.cy && outer.contains(x, y) && !inner.contains(x, y)
            }) { _, _ in lips.scaled(0.8) }
        case .grin:
            let mouth = Ellipse(cx: cx, cy: cy - 0.01, rx: width, ry: 0.05)
            let rim = Ellipse(cx: cx, cy: cy - 0.01, rx: width + 0.008, ry: 0.058)
            canvas.fill(bounds: rim.bounds, inside: { x, y in y > rim.cy - 0.006 && rim.contains(x, y) }) { _, _ in lips }
            canvas.fill(bounds: mouth.bounds, inside: { x, y in y > mouth.cy && mouth.contains(x, y) }) { _, y in
                y < mouth.cy + 0.016 ? Colour(bytes: 250, 248, 240) : Colour(bytes: 110, 30, 36)
            }
        }
    }

    func drawMoustache() {
        let cy = t.centreY + t.radiusY * (t.mouthHeight + t.noseHeight) / 2 + 0.01
        let width = t.radiusX * t.mouthWidth * 1.15
        let moustache = Ellipse(cx: t.centreX, cy: cy, rx: width, ry: 0.018)
        canvas.fill(bounds: moustache.bounds, inside: { x, y in
            moustache.contains(x, y) && y > cy - 0.018 + 0.03 * abs(x - self.t.centreX) / width * 0.3
        }) { _, _ in self.t.hair.scaled(0.8) }
    }

    func drawGlasses() {
        let radius = t.eyeWidth * 1.45
        let thickness: Float = 0.011
        for side: Float in [-1, 1] {
            let lens = Ellipse(cx: eyeX(side), cy: eyeY + 0.004, rx: radius, ry: radius * 0.85)
            let rim = Ellipse(cx: lens.cx, cy: lens.cy, rx: radius + thickness, ry: radius * 0.85 + thickness)
            if t.sunglasses {
                canvas.fill(bounds: lens.bounds, alpha: 0.88, inside: lens.contains) { _, y in
                    Colour(bytes: 20, 22, 30).mixed(with: Colour(bytes: 70, 80, 100), max(0, (lens.cy - y) / lens.ry))
                }
            } else {
                canvas.fill(bounds: lens.bounds, alpha: 0.12, inside: lens.contains) { _, _ in Colour(bytes: 200, 230, 255) }
            }
            canvas.fill(bounds: rim.bounds, inside: { x, y in rim.contains(x, y) && !lens.contains(x, y) }) { _, _ in self.t.frame }
            // The arm towards the ear.
            let armX0 = side < 0 ? t.centreX - t.radiusX * 1.0 : rim.cx + rim.rx - 0.004
            let armX1 = side < 0 ? rim.cx - rim.rx + 0.004 : t.centreX + t.radiusX * 1.0
            canvas.fill(bounds: (armX0, lens.cy - 0.012, armX1, lens.cy - 0.012 + thickness), inside: { _, _ in true }) { _, _ in
                self.t.frame
            }
        }
        let bridge = (eyeX(-1) + radius, eyeY - 0.006, eyeX(1) - radius, eyeY - 0.006 + thickness)
        canvas.fill(bounds: bridge, inside: { _, _ in true }) { _, _ in self.t.frame }
    }
}

/// Hue in 0..<6 (red, yellow, green, cyan, blue, magenta), saturation and value in 0...1.
func hsv(_ hue: Float, _ saturation: Float, _ value: Float) -> Colour {
    let sector = Int(hue) % 6, f = hue - Float(Int(hue))
    let p = value * (1 - saturation), q = value * (1 - saturation * f), u = value * (1 - saturation * (1 - f))
    switch sector {
    case 0: return Colour(value, u, p)
    case 1: return Colour(q, value, p)
    case 2: return Colour(p, value, u)
    case 3: return Colour(p, q, value)
    case 4: return Colour(u, p, value)
    default: return Colour(value, p, q)
    }
}

/// The face for `index` of a set drawn with `seed`: it depends on those two numbers alone.
func drawFace(seed: UInt64, index: Int, size: Int) -> RGBImage {
    var random = SplitMix64(seed: (seed &* 0x2545_F491_4F6C_DD1D) ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
    let artist = FaceArtist(traits: FaceTraits(random: &random), size: size)
    return artist.draw()
}
