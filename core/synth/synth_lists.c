/* Word lists of the synthetic world. Accented names are mixed in so that
 * accent stripping is a real source of noise. Surnames are also composed of
 * a stem and an ending ("Lindqvist", "Petrović"), as the surnames of a
 * large catalogue are far more varied than any list of common ones. */
#include "synth/synth_lists.h"

#define LIST(name, array) \
    const kga_synth_list_t name = {array, sizeof array / sizeof array[0]}

static const char *const first_names[] = {
    "James", "John", "Robert", "Michael", "William", "David", "Richard",
    "Joseph", "Thomas", "Charles", "Christopher", "Daniel", "Matthew",
    "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
    "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward",
    "Jason", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric",
    "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin",
    "Samuel", "Gregory", "Alexander", "Frank", "Patrick", "Raymond", "Jack",
    "Dennis", "Jerry", "Tyler", "Aaron", "Henry", "Adam", "Douglas", "Nathan",
    "Peter", "Zachary", "Kyle", "Walter", "Harold", "Carl", "Arthur",
    "Gerald", "Roger", "Keith", "Lawrence", "Terry", "Sean", "Albert", "Joe",
    "Christian", "Austin", "Willie", "Jesse", "Ethan", "Billy", "Bruce",
    "Bryan", "Ralph", "Roy", "Jordan", "Eugene", "Wayne", "Louis", "Alan",
    "Juan", "Philip", "Russell", "Harry", "Vincent", "Bobby", "Johnny",
    "Logan", "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara",
    "Susan", "Jessica", "Sarah", "Karen", "Nancy", "Lisa", "Betty",
    "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
    "Dorothy", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie",
    "Rebecca", "Sharon", "Laura", "Cynthia", "Kathleen", "Amy", "Shirley",
    "Angela", "Helen", "Anna", "Brenda", "Pamela", "Nicole", "Emma",
    "Samantha", "Katherine", "Christine", "Rachel", "Catherine", "Carolyn",
    "Janet", "Ruth", "Maria", "Heather", "Diane", "Virginia", "Julie",
    "Joyce", "Victoria", "Olivia", "Kelly", "Christina", "Lauren", "Joan",
    "Evelyn", "Judith", "Megan", "Andrea", "Hannah", "Martha", "Jacqueline",
    "Frances", "Gloria", "Ann", "Teresa", "Kathryn", "Sara", "Janice", "Jean",
    "Alice", "Madison", "Doris", "Abigail", "Julia", "Judy", "Grace",
    "Denise", "Amber", "Marilyn", "Beverly", "Danielle", "Theresa", "Sophia",
    "Marie", "Diana", "Natalie", "Isabella", "Charlotte", "Rose", "Alexis",
    "Kayla", "Hiroshi", "Yuki", "Wei", "Mei", "Arjun", "Priya", "Omar",
    "Fatima", "Kwame", "Amara", "Dmitri", "Olga", "Giovanni", "Francesca",
    "Lars", "Ingrid", "Pieter", "Katarzyna", "Tomasz", "Mehmet",
    /* accented */
    "José", "Zoë", "Renée", "Chloë", "Björn", "Søren", "François", "Ángel",
    "Inés", "Agnès", "Hélène", "Jürgen", "Łukasz", "Mónica", "Raúl",
    "Sebastián", "Noémie", "Zoé", "Åsa", "Göran", "Jérôme", "Andrés",
    "Iñaki", "Małgorzata", "Ayşe", "Çağla", "Dagný", "Ørjan", "Frédéric",
    "Cécile", "Élodie", "Léa", "Joël", "Anaïs", "Íñigo", "Jesús", "Ramón",
    "Ségolène", "Håkon", "Zoltán",
};
LIST(kga_synth_first_names, first_names);

static const char *const last_names[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
    "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez",
    "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
    "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan",
    "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos",
    "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood",
    "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
    "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross",
    "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell", "Sullivan",
    "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Fisher", "Vasquez",
    "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton",
    "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole",
    "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina",
    "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens",
    "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy",
    "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman",
    "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon",
    "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Hunt", "Hicks",
    "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Stone",
    "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt",
    "Tanaka", "Suzuki", "Wang", "Liu", "Sharma", "Gupta", "Haddad", "Okafor",
    "Mensah", "Ivanov", "Petrov", "Rossi", "Bianchi", "Jansen", "de Vries",
    "Nowak", "Kowalski", "Yilmaz", "O'Brien", "O'Connor", "MacLeod",
    /* accented */
    "Müller", "Núñez", "García", "Sørensen", "Ødegaard", "Lefèvre", "Gómez",
    "Dvořák", "Kovač", "Özdemir", "Šimić", "Jiménez", "Muñoz", "Pérez",
    "Ibáñez", "Löw", "Schäfer", "Håkansson", "Çelik", "Wałęsa", "Brontë",
    "Bjørnstad", "Sánchez", "Álvarez", "Fernández", "Rodríguez", "Martínez",
    "Hernández", "López", "González", "Gutiérrez", "Éluard", "Gauthié",
    "Dubé", "Lévesque", "Côté", "Fält", "Nyström", "Grünewald", "Żukowski",
};
LIST(kga_synth_last_names, last_names);

static const char *const surname_stems[] = {
    "Ander", "Berg", "Kowal", "Nowak", "Petr", "Ivan", "Lind", "Holm",
    "Strand", "Karl", "Niel", "Jans", "Mart", "Bern", "Fern", "Rod",
    "Gonz", "Ross", "Bianch", "Ferr", "Marin", "Esp", "Alm", "Cast",
    "Dahl", "Eck", "Fisch", "Gold", "Hart", "Hof", "Krüg", "Lang",
    "Müll", "Neum", "Ost", "Rein", "Schw", "Stein", "Vog", "Weid",
    "Zimm", "Bog", "Dobr", "Grab", "Jur", "Kovac", "Lev", "Mir", "Pav",
    "Rad", "Sok", "Tom", "Vlad", "Zar", "Mak", "Kar", "Dem", "Pap",
    "Nik", "Gal", "Hald", "Sund", "Ek", "Sjö", "Lund", "Nord", "Vik",
    "Ask", "Björk", "Fors", "Ahl", "Bran", "Croft", "Ash", "Black",
    "Brad", "Bright", "Brook", "Chap", "Clay", "Cold", "Dun", "Fair",
    "Green", "Hal", "Haw", "Kings", "Lock", "Marsh", "Mid", "Mor", "New",
    "North", "Red", "Rich", "Shel", "Stan", "Thorn", "West", "Whit",
    "Wood", "Al", "Ben", "Cor", "Dal", "El", "Fal", "Gar", "Hed", "Ib",
    "Jal", "Kam", "Lor", "Mon", "Nav", "Or", "Pal", "Quin", "Sal", "Tal",
    "Ur", "Val", "Yar", "Åk", "Øst", "Ét", "Šim",
    "Žel", "Łąk",
};
LIST(kga_synth_surname_stems, surname_stems);

static const char *const surname_endings[] = {
    "son", "sen", "sson", "ski", "ska", "ov", "ova", "ev", "eva", "ić",
    "ović", "enko", "uk", "escu", "ini", "elli", "etti", "ez", "es",
    "ard", "mann", "berg", "stein", "ström", "qvist", "gaard",
    "opoulos", "akis", "yan", "oğlu", "er", "ley", "ton", "wood",
    "field", "ford", "ham", "by", "well", "worth", "ier", "eau", "ot",
    "ac", "ek", "ak", "os", "ino",
};
LIST(kga_synth_surname_endings, surname_endings);

static const char *const adjectives[] = {
    "Silent", "Dark", "Broken", "Last", "Lost", "Golden", "Hidden",
    "Secret", "Final", "Eternal", "Burning", "Frozen", "Crimson", "Wild",
    "Forgotten", "Endless", "Savage", "Quiet", "Bitter", "Sweet", "Distant",
    "Hollow", "Iron", "Electric", "Midnight", "Velvet", "Scarlet",
    "Shattered", "Restless", "Fallen", "Brave", "Little", "Lonely",
    "Perfect", "Strange", "Wicked", "Invisible", "Blue", "Red", "Black",
    "White", "Green", "Silver", "Crystal", "Deadly", "Gentle", "Happy",
    "Holy", "Infinite", "Lucky", "Mad", "Modern", "Naked", "Northern",
    "Ordinary", "Painted", "Rising", "Royal", "Sacred", "Second", "Sleeping",
    "Southern", "Stolen", "Sudden", "Twisted", "Violent", "Wandering",
    "Young", "Ancient", "Bright", "Cold", "Empty", "Fearless", "Hungry",
    "Lazy", "Mighty", "Proud", "Wounded", "Dangerous", "Beautiful",
};
LIST(kga_synth_adjectives, adjectives);

static const char *const nouns[] = {
    "Night", "Road", "River", "Garden", "City", "Heart", "Storm", "Dream",
    "Shadow", "Kingdom", "Empire", "Island", "House", "Mirror", "Door",
    "Window", "Bridge", "Tower", "Ocean", "Mountain", "Forest", "Desert",
    "Valley", "Harbor", "Station", "Train", "Letter", "Promise", "Game",
    "Song", "Dance", "Summer", "Winter", "Spring", "Autumn", "Sun", "Moon",
    "Star", "Sky", "Fire", "Rain", "Snow", "Wind", "Stone", "Blood", "Knife",
    "Crown", "Ring", "Key", "Clock", "Dragon", "Wolf", "Tiger", "Eagle",
    "Horse", "Angel", "Ghost", "Stranger", "Hunter", "Soldier", "King",
    "Queen", "Prince", "Princess", "Doctor", "Detective", "Thief", "Witness",
    "Lover", "Child", "Father", "Mother", "Brother", "Sister", "Family",
    "Friend", "Enemy", "Journey", "Voyage", "Escape", "Return", "Revenge",
    "Justice", "Honor", "Glory", "Truth", "Lie", "Memory", "Silence",
    "Paradise", "Heaven", "Affair", "Legacy", "Ritual", "Signal", "Code",
    "Machine", "Planet", "Galaxy", "Frontier", "Border", "Circus",
    "Carnival", "Theater", "Hotel", "Casino", "Prison", "Academy", "Village",
    "Factory", "Castle", "Ship", "Season", "Widow", "Orphan", "Gambler",
    "Assassin", "Pilgrim", "Emperor", "Orchard", "Lighthouse", "Labyrinth",
};
LIST(kga_synth_nouns, nouns);

static const char *const places[] = {
    "Paris", "Rome", "Berlin", "Tokyo", "Cairo", "Chicago", "Boston",
    "Vienna", "Prague", "Madrid", "Lisbon", "Dublin", "Havana", "Manila",
    "Seoul", "Lagos", "Istanbul", "Marseille", "Naples", "Venice", "Moscow",
    "Shanghai", "New York", "San Francisco", "Mexico City", "Montréal",
    "Bogotá", "Zürich", "São Paulo", "Kraków", "Malmö", "Reykjavík",
    "Düsseldorf", "Córdoba", "Medellín", "Curaçao", "Gdańsk", "Genève",
    "Besançon", "Tromsø",
};
LIST(kga_synth_places, places);

static const char *const honorifics[] = {
    "Detective", "Dr.", "Captain", "Agent", "Professor", "Sergeant", "Lady",
    "Uncle", "Aunt", "Inspector", "Colonel", "Major", "Officer", "Judge",
    "Mayor", "Count", "Baron", "Madame", "Father", "Nurse",
};
LIST(kga_synth_honorifics, honorifics);

static const char *const genres[] = {
    "Drama", "Comedy", "Thriller", "Horror", "Science fiction", "Fantasy",
    "Romance", "Action", "Adventure", "Crime", "Mystery", "Western", "War",
    "Musical", "Documentary", "Animation", "Film noir", "Biography",
    "Historical", "Family", "Sports", "Superhero", "Disaster", "Martial arts",
    "Psychological thriller", "Romantic comedy", "Black comedy", "Satire",
    "Spy", "Heist",
};
LIST(kga_synth_genres, genres);

const kga_synth_title_form_t kga_synth_title_forms[] = {
    [KGA_SYNTH_TITLE_THE_ADJ_NOUN] = {{&kga_synth_adjectives, &kga_synth_nouns},
                                      {" "}},
    [KGA_SYNTH_TITLE_ADJ_NOUN] = {{&kga_synth_adjectives, &kga_synth_nouns},
                                  {" "}},
    [KGA_SYNTH_TITLE_THE_NOUN] = {{&kga_synth_nouns}, {NULL}},
    [KGA_SYNTH_TITLE_NOUN_OF_NOUN] = {{&kga_synth_nouns, &kga_synth_nouns},
                                      {" of the "}},
    [KGA_SYNTH_TITLE_POSSESSIVE] = {{&kga_synth_first_names, &kga_synth_nouns},
                                    {"'s "}},
    [KGA_SYNTH_TITLE_NOUN_IN_PLACE] = {{&kga_synth_nouns, &kga_synth_places},
                                       {" in "}},
    [KGA_SYNTH_TITLE_ADJ_NOUN_OF_NOUN] = {{&kga_synth_adjectives,
                                           &kga_synth_nouns, &kga_synth_nouns},
                                          {" ", " of the "}},
    [KGA_SYNTH_TITLE_POSSESSIVE_ADJ] = {{&kga_synth_first_names,
                                         &kga_synth_adjectives,
                                         &kga_synth_nouns},
                                        {"'s ", " "}},
    [KGA_SYNTH_TITLE_ADJ_NOUN_IN_PLACE] = {{&kga_synth_adjectives,
                                            &kga_synth_nouns,
                                            &kga_synth_places},
                                           {" ", " in "}},
};
