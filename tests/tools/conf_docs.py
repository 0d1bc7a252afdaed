#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Check a configuration block of docs/operations.md against a program's table.

Usage: conf_docs.py DOC SECTION N PRINTED
  DOC      docs/operations.md
  SECTION  the heading above the block ("## Running the runtime" ...); the first code
           block after its "### Configuration file" is checked
  PRINTED  what `--print-config` prints with no file: every key, its default (or
           "unset"), its range

Every key of the table must be in the block and no other; a key written out (not
commented) must show the default, and a commented one must be one without a default
(unset); a key with a range ("lo..hi") must state that range in its comment. Prints one
line per problem and exits 1 if there is any.
"""
import re
import sys

KEY = re.compile(r'(\w+) = ("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\(|[^;#]+?);?\s*(?:#|$)')
GROUP = re.compile(r'(\w+): \{')
UNSET = re.compile(r'(\w+): unset; (.*)')


def split_comment(line):
    """(code, comment) of a line: the first # outside quotes starts the comment."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != '\\'):
            quoted = not quoted
        elif ch == '#' and not quoted:
            return line[:i], line[i + 1:]
    return line, ''


TOKEN = re.compile(r'\s*(?:(?P<group>\w+): \{|(?P<close>\};)|(?P<key>\w+) = '
                   r'(?P<value>"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\(|[^;]+);?)')


def parse(lines):
    """{path: [value or None if commented, comment text]} of a libconfig text."""
    keys, groups, last, in_list = {}, [], None, 0
    for raw in lines:
        text = raw.strip()
        commented = text.startswith('#')
        text = text.lstrip('# \t')
        if in_list:
            in_list += text.count('(') - text.count(')')
            continue
        m = UNSET.match(text) if commented else None
        if m:
            last = '.'.join([g for g, _ in groups] + [m.group(1)])
            keys[last] = [None, m.group(2)]
            continue
        code, comment = split_comment(text)
        pos, found = 0, False
        while True:
            t = TOKEN.match(code, pos)
            if not t or (commented and not found and t.group('group') is None and
                         t.group('close') is None and t.group('key') is None):
                break
            pos, found = t.end(), True
            if t.group('group'):
                groups.append((t.group('group'), commented))
            elif t.group('close'):
                if groups:
                    groups.pop()
                last = None
            else:
                last = '.'.join([g for g, _ in groups] + [t.group('key')])
                value = t.group('value').strip()
                if value == '(':
                    in_list, value = 1, '(list)'
                off = commented or any(c for _, c in groups)
                keys[last] = [None if off else value, comment.strip()]
        if found and code[pos:].strip():
            found = False  # prose that happened to start like a key
            keys.pop(last, None)
        if not found and last:
            keys[last][1] += ' ' + (comment if not commented else text)
    return keys


def doc_block(path, section):
    lines = open(path, encoding='utf-8').read().split('\n')
    start = next(i for i, l in enumerate(lines) if l.startswith(section))
    conf = next(i for i in range(start, len(lines))
                if lines[i].startswith('### Configuration file'))
    begin = next(i for i in range(conf, len(lines)) if lines[i].startswith('```'))
    end = next(i for i in range(begin + 1, len(lines)) if lines[i].startswith('```'))
    return lines[begin + 1:end]


def norm(v):
    v = re.sub(r'(\d)L\b', r'\1', v)
    return re.sub(r'\s+', '', v)


def main():
    doc_path, section, printed_path = sys.argv[1:4]
    doc = parse(doc_block(doc_path, section))
    table = parse(open(printed_path, encoding='utf-8').read().split('\n'))
    bad = []
    for key, (value, comment) in table.items():
        if key not in doc:
            bad.append(f'{key}: not in the documentation')
            continue
        dvalue, dcomment = doc[key]
        rng = re.match(r'(-?\d+\.\.\d+);', comment)
        if rng and rng.group(1) not in dcomment:
            bad.append(f'{key}: the documentation does not say its range {rng.group(1)}')
        if dvalue == '(list)':
            continue
        if value is None and dvalue is not None:
            bad.append(f'{key}: unset by default, but the documentation writes {dvalue}'
                       ' (comment it out)')
        elif value is not None and dvalue is None:
            bad.append(f'{key}: the documentation comments it out; its default is {value}')
        elif value is not None and norm(value) != norm(dvalue):
            bad.append(f'{key}: the documentation says {dvalue}, the default is {value}')
    for key in doc:
        if key not in table:
            bad.append(f'{key}: documented, but no such key')
    for b in bad:
        print(b)
    print(f'{len(table)} keys, {len(bad)} problems')
    return 1 if bad else 0


sys.exit(main())
