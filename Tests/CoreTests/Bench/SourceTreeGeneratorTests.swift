import PohmelfsCore
import XCTest

final class SourceTreeGeneratorTests: XCTestCase {
    func testSameSeedGivesTheSameTree() {
        let first = SourceTreeGenerator(fileCount: 2000, seed: 11).generate()
        let second = SourceTreeGenerator(fileCount: 2000, seed: 11).generate()
        XCTAssertEqual(first, second)
    }

    func testDifferentSeedsGiveDifferentTrees() {
        let first = SourceTreeGenerator(fileCount: 2000, seed: 11).generate()
        let second = SourceTreeGenerator(fileCount: 2000, seed: 12).generate()
        XCTAssertNotEqual(first.files.map(\.path), second.files.map(\.path))
        XCTAssertNotEqual(first.files.map(\.size), second.files.map(\.size))
    }

    func testTreeHasTheAskedNumberOfUniqueFilesInListedDirectories() {
        let tree = SourceTreeGenerator(fileCount: 10_000, seed: 1).generate()
        XCTAssertEqual(tree.files.count, 10_000)
        XCTAssertEqual(Set(tree.files.map(\.path)).count, 10_000)
        let directories = Set(tree.directories)
        XCTAssertEqual(directories.count, tree.directories.count)
        XCTAssertTrue(directories.isDisjoint(with: tree.files.map(\.path)))
        for file in tree.files {
            if let slash = file.path.lastIndex(of: "/") {
                XCTAssertTrue(directories.contains(String(file.path[..<slash])), file.path)
            }
        }
    }

    func testParentsComeBeforeTheirChildren() {
        let tree = SourceTreeGenerator(fileCount: 5000, seed: 2).generate()
        var created = Set<String>()
        for directory in tree.directories {
            if let slash = directory.lastIndex(of: "/") {
                XCTAssertTrue(created.contains(String(directory[..<slash])), directory)
            }
            created.insert(directory)
        }
        XCTAssertEqual(
            tree.files.map(\.path), tree.files.map(\.path).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    }

    func testTreeIsShapedLikeASourceCheckout() {
        let tree = SourceTreeGenerator(fileCount: 10_000, seed: 1).generate()
        // About a dozen files per directory, a few levels deep, never deeper than eight.
        let depths = tree.directories.map { $0.split(separator: "/").count }
        XCTAssertEqual(Double(tree.files.count) / Double(tree.directories.count + 1), 12, accuracy: 2)
        XCTAssertLessThanOrEqual(depths.max() ?? 0, 8)
        XCTAssertGreaterThanOrEqual(depths.max() ?? 0, 4)
        // C sources and headers dominate, as in a systems checkout.
        let sources = tree.files.filter { $0.path.hasSuffix(".c") || $0.path.hasSuffix(".h") }.count
        XCTAssertGreaterThan(sources, tree.files.count * 45 / 100)
    }

    func testSizesFollowAHeavyTailedDistribution() {
        let tree = SourceTreeGenerator(fileCount: 10_000, seed: 1).generate()
        let sizes = tree.files.map(\.size).sorted()
        let median = sizes[sizes.count / 2]
        let mean = tree.totalBytes / sizes.count
        // A median of a few KiB, a mean well above it (the tail), some empty files, a few large ones.
        XCTAssertTrue((1024...8192).contains(median), "median \(median)")
        XCTAssertGreaterThan(mean, 2 * median)
        XCTAssertGreaterThan(sizes.filter { $0 == 0 }.count, 50)
        XCTAssertGreaterThan(sizes.filter { $0 >= 256 << 10 }.count, 10)
        XCTAssertLessThanOrEqual(sizes.last ?? 0, FileSizeDistribution().maximum)
        // About /usr/include's 116 MiB for 8,872 entries.
        XCTAssertTrue((50 << 20...200 << 20).contains(tree.totalBytes), "total \(tree.totalBytes)")
    }
}
