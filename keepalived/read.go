package keepalived

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Pos is a place in a configuration file: its path as it was named (the
// main file as given, an included one as the include found it) and its
// line, from 1.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// An Error is a line of the configuration that vipkit refuses: a syntax
// error, a value out of keepalived's range, or a keyword whose meaning it
// cannot honour.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// A node is a statement of the configuration: its words and, for a block,
// the statements inside its braces.
type node struct {
	pos   Pos
	words []string
	block []*node // the statements of its block
	brace bool    // the statement has a block (maybe empty)
}

// keyword returns the statement's first word.
func (n *node) keyword() string { return n.words[0] }

// args returns the words after the keyword.
func (n *node) args() []string { return n.words[1:] }

// maxIncludeDepth bounds include within include, as a loop of includes
// would otherwise never end.
const maxIncludeDepth = 16

// reader turns files into statements, as keepalived's lib/parser.c reads
// them: a line is words separated by blanks; '!' and '#' outside quotes
// begin a comment; "..." and '...' quote a word; a '\' at the end of a
// line continues it; '{' and '}' outside quotes end a statement, so that
// "vrrp_instance VI_1 {" and "}" may share a line with other words;
// "include GLOB" (relative to the including file's directory) reads the
// files it matches, in order, in its place.
type reader struct {
	errs []error
}

func (r *reader) errorf(pos Pos, format string, args ...any) {
	r.errs = append(r.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// readFile returns the statements of the file at path, includes read.
func (r *reader) readFile(path string, depth int) []*node {
	b, err := os.ReadFile(path)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("keepalived: %w", err))
		return nil
	}
	toks := r.tokens(path, string(b), depth)
	nodes, rest := r.statements(toks, nil)
	for _, t := range rest { // a '}' with no block to close
		r.errorf(t.pos, "extra '}'")
	}
	return nodes
}

// A token is a word, or a brace outside quotes.
type token struct {
	pos   Pos
	text  string
	brace byte // '{' or '}', or 0 for a word
	end   bool // the last token of its line
}

// tokens splits a file's text into tokens, reading includes in place.
func (r *reader) tokens(path, text string, depth int) []token {
	var toks []token
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		pos := Pos{File: path, Line: i + 1}
		line := lines[i]
		// A '\' at the end continues the line (outside a comment).
		for strings.HasSuffix(strings.TrimRight(stripComment(line), " \t\r"), `\`) && i+1 < len(lines) {
			line = strings.TrimSuffix(strings.TrimRight(stripComment(line), " \t\r"), `\`) + " " + lines[i+1]
			i++
		}
		words, err := splitLine(line)
		if err != nil {
			r.errorf(pos, "%v", err)
			continue
		}
		if len(words) > 0 && words[0].text == "include" && words[0].brace == 0 {
			toks = append(toks, r.include(pos, path, words[1:], depth)...)
			continue
		}
		for j, w := range words {
			w.pos = pos
			w.end = j == len(words)-1
			toks = append(toks, w)
		}
	}
	return toks
}

// include reads the files that the words of an include line match.
func (r *reader) include(pos Pos, from string, words []token, depth int) []token {
	if len(words) != 1 || words[0].brace != 0 {
		r.errorf(pos, "include takes one file name or pattern")
		return nil
	}
	if depth >= maxIncludeDepth {
		r.errorf(pos, "include nested more than %d deep (a loop?)", maxIncludeDepth)
		return nil
	}
	pattern := words[0].text
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(from), pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		r.errorf(pos, "include %s: %v", words[0].text, err)
		return nil
	}
	slices.Sort(matches)
	var toks []token
	for _, m := range matches {
		if fi, err := os.Stat(m); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(m)
		if err != nil {
			r.errorf(pos, "include %s: %v", m, err)
			continue
		}
		toks = append(toks, r.tokens(m, string(b), depth+1)...)
	}
	return toks
}

// stripComment returns line without its comment: from the first '!' or
// '#' outside quotes.
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line):
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '!' || c == '#':
			return line[:i]
		}
	}
	return line
}

// splitLine splits a line into words and braces, quotes removed.
func splitLine(line string) ([]token, error) {
	var (
		toks  []token
		word  strings.Builder
		in    bool // a word has begun (it may be "")
		quote byte
	)
	flush := func() {
		if in {
			toks = append(toks, token{text: word.String()})
			word.Reset()
			in = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			in = true
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == '!' || c == '#':
			flush()
			return toks, nil
		case c == '{' || c == '}':
			flush()
			toks = append(toks, token{text: string(c), brace: c})
		case c == ' ' || c == '\t' || c == '\r':
			flush()
		default:
			word.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	flush()
	return toks, nil
}

// statements builds the statements of toks up to the '}' that closes the
// block of opener (nil at the top of a file), and returns what follows
// it. A statement
// ends with its line, or at a brace; one followed by '{', on its line or
// the next (keepalived takes "keyword" and "{" on two lines), has a block.
func (r *reader) statements(toks []token, opener *node) ([]*node, []token) {
	var nodes []*node
	var cur *node
	end := func() {
		if cur != nil {
			nodes, cur = append(nodes, cur), nil
		}
	}
	for len(toks) > 0 {
		t := toks[0]
		toks = toks[1:]
		switch t.brace {
		case '{':
			if cur == nil && len(nodes) > 0 && !nodes[len(nodes)-1].brace {
				cur, nodes = nodes[len(nodes)-1], nodes[:len(nodes)-1]
			}
			if cur == nil {
				r.errorf(t.pos, "'{' without a keyword before it")
				cur = &node{pos: t.pos, words: []string{"{"}}
			}
			cur.brace = true
			cur.block, toks = r.statements(toks, cur)
			end()
		case '}':
			end()
			if opener == nil {
				return nodes, append([]token{t}, toks...)
			}
			return nodes, toks
		default:
			if cur == nil {
				cur = &node{pos: t.pos}
			}
			cur.words = append(cur.words, t.text)
			if t.end {
				end()
			}
		}
	}
	end()
	if opener != nil {
		r.errorf(opener.pos, "%s: no '}' closes its block", opener.keyword())
	}
	return nodes, nil
}
